#!/usr/bin/python3
"""gbdt_valid.py — chooses gbdt's categorical defaults without looking at any test set.

For each dataset, the bench's training part (first 90% of the lines, as
bench/gbdt.sh splits it) is cut into K blocks by line order; each block in turn
validates a model trained on the other blocks (K-fold, in line order). leap
gbdt under each candidate setting (the bench's spec and settings: 300 trees,
depth 6, learning rate 0.1, 255 bins) and, with --xgb, XGBoost as
bench/xgb_gbdt.py runs it, are scored by AUC on the validation blocks; the
mean over blocks is printed. The bench's test lines are never read.

  bench/gbdt_valid.py --leap build/leap [--folds 3] [--rows 200000] [--only NAME]
                      [--xgb] [--extra 'label:--set a=1 --set b=2']
"""
import argparse
import gzip
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from lr_compare import run, split_lines  # noqa: E402
from gbdt_compare import candidates, spec, validation_sets  # noqa: E402

BENCH = ["--set", "trees=300", "--set", "max_depth=6", "--set", "learning_rate=0.1",
         "--set", "max_bin=255"]

# (label, arguments): the runs that chose the defaults (lambda_l2 300,
# cat_rank_splits 1), listed in docs/PERFORMANCE.md.
CANDIDATES = [
    ("previous defaults (l2 1, no rank splits)", ["--set", "lambda_l2=1", "--set",
                                                  "cat_rank_splits=0"]),
    ("cat_smooth 10, cat_l2 10 (LightGBM's)", ["--set", "lambda_l2=1", "--set",
                                               "cat_rank_splits=0", "--set", "cat_smooth=10",
                                               "--set", "cat_l2=10"]),
    ("rank splits, l2 1", ["--set", "lambda_l2=1"]),
    ("rank splits, l2 10", ["--set", "lambda_l2=10"]),
    ("rank splits, l2 100", ["--set", "lambda_l2=100"]),
    ("no rank splits, l2 300", ["--set", "cat_rank_splits=0"]),
    ("defaults (rank splits, l2 300)", []),
    ("rank splits, l2 1000", ["--set", "lambda_l2=1000"]),
]


def folds(path, k, work):
    """Yields (train, valid) file pairs: block i of k (line order) validates."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        lines = f.readlines()
    n = len(lines)
    for i in range(k):
        a, b = n * i // k, n * (i + 1) // k
        tr, va = os.path.join(work, "tr%d.tsv" % i), os.path.join(work, "va%d.tsv" % i)
        with open(tr, "wb") as f:
            f.writelines(lines[:a] + lines[b:])
        with open(va, "wb") as f:
            f.writelines(lines[a:b])
        yield tr, va


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--leap", required=True)
    ap.add_argument("--rows", type=int, default=200000)
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--work", default="bench-out/gbdt_valid")
    ap.add_argument("--criteo-dir", default=os.path.join(HERE, "..", "..", "shared", "data", "criteo"))
    ap.add_argument("--only", default="")
    ap.add_argument("--xgb", action="store_true")
    ap.add_argument("--no-defaults", action="store_true")
    ap.add_argument("--extra", action="append", default=[],
                    help="another candidate: 'label:--set a=1 --set b=2'")
    a = ap.parse_args()
    cands = candidates([] if a.no_defaults else CANDIDATES, a.extra)
    sets = validation_sets(a.leap, a.rows, a.work, a.criteo_dir, a.only)
    for name, src, w in sets:
        full, test = os.path.join(w, "full.tsv"), os.path.join(w, "test.tsv")
        n = split_lines(src, full, test)  # the bench's train part; test.tsv is removed unread
        os.remove(test)
        sp = os.path.join(w, "spec.yaml")
        spec(sp, 255, 1000)
        pairs = []
        for i, (tr, va) in enumerate(folds(full, a.folds, w)):
            vds = os.path.join(w, "va%d.lds" % i)
            run([a.leap, "ingest", "--format", "criteo", va, "-o", vds])
            pairs.append((tr, va, vds))
        print("%s (%d training rows, %d folds)" % (name, n[0], a.folds), flush=True)
        if a.xgb:
            v = []
            for tr, va, _ in pairs:
                out = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "xgb_gbdt.py"), tr, va],
                                     capture_output=True, text=True, check=True).stdout
                v.append(json.loads(out.strip().splitlines()[-1])["auc"])
            print("  %-44s %.5f  %s" % ("xgboost", sum(v) / len(v),
                                        " ".join("%.4f" % x for x in v)), flush=True)
        for label, extra in cands:
            v = []
            for tr, va, vds in pairs:
                mp = os.path.join(w, "m.leap")
                run([a.leap, "train", "--model", "gbdt", "--train", tr, "--transform", sp, "-o",
                     mp, "--threads", "2", "--quiet"] + BENCH + extra)
                _, _, ev = run([a.leap, "eval", "--model", mp, "--data", vds, "--json"])
                v.append(json.loads(ev)["metrics"]["auc"])
            print("  %-44s %.5f  %s" % (label, sum(v) / len(v),
                                        " ".join("%.4f" % x for x in v)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
