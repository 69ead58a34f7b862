#!/usr/bin/python3
"""xgb_gbdt.py — the XGBoost peer of leap's GBDT benchmark (bench/gbdt.sh).

The pipeline an XGBoost user would write for Criteo-format TSV:

    pandas.read_csv -> I1..I13 as floats (NaN = missing)
                    -> C1..C26: frequency encoding (share of training rows with the
                       value) and out-of-fold target encoding (5 folds, mean click
                       rate of the value in the other folds, smoothed toward the
                       prior with weight 20; the test rows use the whole training set)
                    -> xgboost.train(tree_method="hist", max_bin=256, max_depth=6,
                       eta=0.1, 300 rounds, nthread=2)

Prints one JSON line: read/encode/fit/total seconds, peak RSS, batch rows/s
(inplace_predict, 1 thread, best of 3), 1-row latency p50/p99 (inplace_predict
on an encoded row), test AUC and logloss.

Usage: /usr/bin/python3 bench/xgb_gbdt.py TRAIN.tsv TEST.tsv [--trees 300] [--threads 2]
"""
import os

os.environ["OMP_WAIT_POLICY"] = "PASSIVE"

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xgboost as xgb  # noqa: E402
from sklearn.metrics import log_loss, roc_auc_score  # noqa: E402

INT_COLS = ["I%d" % i for i in range(1, 14)]
CAT_COLS = ["C%d" % i for i in range(1, 27)]
COLUMNS = ["label"] + INT_COLS + CAT_COLS


def read_criteo(path):
    dtype = {"label": np.float64}
    dtype.update({c: np.float64 for c in INT_COLS})
    dtype.update({c: str for c in CAT_COLS})
    return pd.read_csv(path, sep="\t", header=None, names=COLUMNS, dtype=dtype)


def encode(tr, te, folds=5, m=20.0, seed=0):
    """Frequency and out-of-fold target encodings of every categorical column."""
    y = tr["label"].to_numpy()
    prior = y.mean()
    n = len(tr)
    fold = np.random.RandomState(seed).randint(0, folds, n)
    Xtr = [tr[INT_COLS].to_numpy(np.float32)]
    Xte = [te[INT_COLS].to_numpy(np.float32)]
    for c in CAT_COLS:
        a, b = tr[c].fillna(""), te[c].fillna("")
        codes, uniq = pd.factorize(a)
        cnt = np.bincount(codes, minlength=len(uniq)).astype(np.float64)
        clk = np.bincount(codes, weights=y, minlength=len(uniq))
        # frequency
        Xtr.append((cnt[codes] / n).astype(np.float32)[:, None])
        tcodes = pd.Index(uniq).get_indexer(b)
        f_te = np.where(tcodes >= 0, cnt[np.maximum(tcodes, 0)] / n, 0.0)
        Xte.append(f_te.astype(np.float32)[:, None])
        # out-of-fold target encoding
        te_tr = np.empty(n)
        for k in range(folds):
            inf = fold == k
            ck = np.bincount(codes[inf], minlength=len(uniq)).astype(np.float64)
            yk = np.bincount(codes[inf], weights=y[inf], minlength=len(uniq))
            c_out, y_out = cnt - ck, clk - yk
            te_tr[inf] = ((y_out + m * prior) / (c_out + m))[codes[inf]]
        Xtr.append(te_tr.astype(np.float32)[:, None])
        full = (clk + m * prior) / (cnt + m)
        t_te = np.where(tcodes >= 0, full[np.maximum(tcodes, 0)], prior)
        Xte.append(t_te.astype(np.float32)[:, None])
    return np.hstack(Xtr), y, np.hstack(Xte)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("train")
    ap.add_argument("test")
    ap.add_argument("--trees", type=int, default=300)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    t0 = time.perf_counter()
    tr = read_criteo(a.train)
    te = read_criteo(a.test)
    t1 = time.perf_counter()
    Xtr, ytr, Xte = encode(tr, te)
    yte = te["label"].to_numpy()
    del tr, te
    t2 = time.perf_counter()
    params = dict(tree_method="hist", max_bin=256, max_depth=6, eta=0.1, nthread=a.threads,
                  objective="binary:logistic", verbosity=0)
    d = xgb.DMatrix(Xtr, label=ytr, nthread=a.threads)
    b = xgb.train(params, d, a.trees)
    t3 = time.perf_counter()
    b.set_param({"nthread": 1})
    best = 1e30
    for _ in range(3):
        s = time.perf_counter()
        p = b.inplace_predict(Xte)
        best = min(best, time.perf_counter() - s)
    lat = []
    for i in range(2000):
        row = Xte[(i * 7919) % len(Xte):][:1]
        s = time.perf_counter()
        b.inplace_predict(row)
        lat.append(time.perf_counter() - s)
    lat.sort()
    print(json.dumps({
        "read_s": round(t1 - t0, 3), "encode_s": round(t2 - t1, 3), "fit_s": round(t3 - t2, 3),
        "train_s": round(t3 - t0, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "batch_rows_per_s": round(len(Xte) / best), "p50_us": round(lat[len(lat) // 2] * 1e6, 2),
        "p99_us": round(lat[len(lat) * 99 // 100] * 1e6, 2),
        "auc": round(float(roc_auc_score(yte, p)), 5), "logloss": round(float(log_loss(yte, p)), 5),
        "features": int(Xtr.shape[1])}))


if __name__ == "__main__":
    main()
