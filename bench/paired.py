"""paired.py — is one model's test score really better than another's?

Two models scored on the same test rows are compared pairwise, so the
standard error of their difference is what matters, not each score's own:

  auc_diff(y, a, b)      AUC(a) - AUC(b) and its standard error by DeLong's
                         method (DeLong, DeLong & Clarke-Pearson 1988; the
                         rank formulation of Sun & Xu 2014);
  logloss_diff(y, a, b)  mean per-row log loss of a minus b and the standard
                         error of that mean;
  scores(leap, model, data)  (labels, probabilities) from `leap predict`.

Used by bench/gbdt_compare.py (gbdt_lr vs lr) and bench/deep_compare.py
(fm, ffm vs lr) as a command, so that numpy and scipy never load into the
benchmark's own process (whose size wait4() would charge to every later
child's peak RSS):

  paired.py LEAP MODEL_A MODEL_B DATA.lds   -> one JSON line: auc_a, auc_b,
      auc_diff, auc_diff_se, logloss_diff, logloss_diff_se (a minus b)

|z| = |difference| / s.e. below 2 means the test set cannot tell the two
models apart.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from scipy.stats import rankdata


def scores(leap, model, data):
    fd, path = tempfile.mkstemp(suffix=".tsv")
    os.close(fd)
    try:
        subprocess.run([leap, "predict", "--model", model, "--input", data, "-o", path],
                       check=True, capture_output=True)
        a = np.loadtxt(path, skiprows=1, ndmin=2)
    finally:
        os.remove(path)
    return a[:, 0], a[:, 1]


def auc_diff(y, a, b):
    """(auc_a, auc_b, auc_a - auc_b, standard error of the difference)."""
    y = np.asarray(y) > 0.5
    pos, neg = y.sum(), (~y).sum()
    if pos == 0 or neg == 0:
        return float("nan"), float("nan"), float("nan"), float("nan")
    v01, v10, aucs = [], [], []
    for s in (np.asarray(a, float), np.asarray(b, float)):
        sp, sn = s[y], s[~y]
        tz = rankdata(np.concatenate([sp, sn]))  # midranks over all rows
        tx, ty = rankdata(sp), rankdata(sn)
        aucs.append((tz[:pos].sum() - pos * (pos + 1) / 2) / (pos * neg))
        v01.append((tz[:pos] - tx) / neg)        # per positive: share of negatives below it
        v10.append(1 - (tz[pos:] - ty) / pos)   # per negative: share of positives above it
    sx, sy = np.cov(np.array(v01)), np.cov(np.array(v10))
    s = sx / pos + sy / neg
    var = s[0, 0] + s[1, 1] - 2 * s[0, 1]
    return aucs[0], aucs[1], aucs[0] - aucs[1], float(np.sqrt(max(var, 0.0)))


def logloss_diff(y, a, b):
    """(mean log loss of a - of b, standard error of that mean)."""
    y = np.asarray(y) > 0.5
    eps = 1e-15

    def ll(p):
        p = np.clip(np.asarray(p, float), eps, 1 - eps)
        return -np.where(y, np.log(p), np.log(1 - p))
    d = ll(a) - ll(b)
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d)))


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: paired.py LEAP MODEL_A MODEL_B DATA.lds")
    leap, ma, mb, data = sys.argv[1:]
    y, a = scores(leap, ma, data)
    y2, b = scores(leap, mb, data)
    if not np.array_equal(y, y2):
        sys.exit("paired.py: the two models' label columns differ")
    r = dict(zip(("auc_a", "auc_b", "auc_diff", "auc_diff_se"), auc_diff(y, a, b)))
    r.update(zip(("logloss_diff", "logloss_diff_se"), logloss_diff(y, a, b)))
    print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
