#!/usr/bin/python3
"""stats_pandas.py — the pandas peer of `leap stats`: what a user would run to
profile a Criteo-format TSV (read_csv, describe with quantiles, nunique,
value_counts top 10, missing rates, label rate per top value of one column).
Prints wall seconds per phase and in total. Paths come from the command line."""
import os
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

INT = ["I%d" % i for i in range(1, 14)]
CAT = ["C%d" % i for i in range(1, 27)]


def main():
    path = sys.argv[1]
    t0 = time.perf_counter()
    dtype = {"label": np.float64, **{c: np.float64 for c in INT}, **{c: str for c in CAT}}
    df = pd.read_csv(path, sep="\t", header=None, names=["label"] + INT + CAT, dtype=dtype)
    t1 = time.perf_counter()
    desc = df[["label"] + INT].describe(percentiles=[.01, .05, .25, .5, .75, .95, .99])
    miss = df.isna().mean()
    nun = df.nunique()
    tops = {c: df[c].value_counts().head(10) for c in df.columns}
    by = df.groupby("C9")["label"].agg(["mean", "count"]).sort_values("count").tail(10)
    t2 = time.perf_counter()
    assert len(desc) and len(miss) and len(nun) and len(tops) and len(by)
    print("pandas: read_csv %.2f s, profile %.2f s, total %.2f s" % (t1 - t0, t2 - t1, t2 - t0))


if __name__ == "__main__":
    main()
