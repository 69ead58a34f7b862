#!/usr/bin/python3
"""sklearn_transform.py TRAIN.tsv TEST.tsv — the scikit-learn side of
bench/transform.sh: the same transforms as bench/transform_spec.yaml, built
the way a scikit-learn user would, fitted on TRAIN and applied to TRAIN and
TEST. Prints one JSON line with the seconds of fit + apply (reading the TSV
is not timed) and rows/s.

  numerics     fillna(-1) -> KBinsDiscretizer(16 quantile bins, ordinal)
  categoricals fillna("") -> OrdinalEncoder(unknown -> -1)
               (min_frequency needs scikit-learn >= 1.3; Debian 12 ships 1.2,
               so the peer does less work than leap's min_count vocabulary)
  crosses      FeatureHasher(2^20, strings "a|b") over the 8 field pairs
"""
import json
import warnings
import sys
import time

import numpy as np
import pandas as pd
from sklearn.feature_extraction import FeatureHasher
from sklearn.preprocessing import KBinsDiscretizer, OrdinalEncoder

NUM = ["I%d" % i for i in range(1, 14)]
CAT = ["C%d" % i for i in range(1, 27)]
PAIRS = [("C1", "C14"), ("C2", "C23"), ("C5", "C17"), ("C7", "C11"), ("C13", "C6"),
         ("C10", "C18"), ("I6", "C2"), ("I5", "C23")]


def read(path):
    return pd.read_csv(path, sep="\t", header=None, names=["label"] + NUM + CAT,
                       dtype={c: str for c in CAT})


def crosses(df, nums_binned):
    cols = []
    for a, b in PAIRS:
        av = nums_binned[:, NUM.index(a)].astype(int).astype(str) if a in NUM else df[a].values
        cols.append(np.char.add(np.char.add(np.asarray(av, dtype=str), "|"),
                                np.asarray(df[b].values, dtype=str)))
    rows = np.stack(cols, axis=1)
    return [["%d=%s" % (j, v) for j, v in enumerate(r)] for r in rows]


def main():
    warnings.simplefilter("ignore")
    train, test = read(sys.argv[1]), read(sys.argv[2])
    t0 = time.perf_counter()
    kb = KBinsDiscretizer(n_bins=16, encode="ordinal", strategy="quantile", subsample=200000,
                          random_state=0)
    oe = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    fh = FeatureHasher(n_features=1 << 20, input_type="string", alternate_sign=False)
    xn = kb.fit_transform(train[NUM].fillna(-1).values)
    xc = oe.fit_transform(train[CAT].fillna("").values)
    xh = fh.transform(crosses(train.fillna(""), xn))
    tn = kb.transform(test[NUM].fillna(-1).values)
    tc = oe.transform(test[CAT].fillna("").values)
    th = fh.transform(crosses(test.fillna(""), tn))
    secs = time.perf_counter() - t0
    rows = len(train) + len(test)
    assert xn.shape[0] + tn.shape[0] == rows and xc.shape[1] == 26 and xh.shape[0] == len(train)
    assert th.shape[0] == len(test) and tc.shape[0] == len(test)
    print(json.dumps({"seconds": secs, "rows": rows, "rows_per_s": rows / secs}))


if __name__ == "__main__":
    main()
