#!/usr/bin/python3
"""gbdt_lr_valid.py — chooses gbdt_lr's defaults without looking at any test set.

For each dataset, the bench's training part (first 90% of the lines, as
bench/gbdt.sh splits it) is split again by line order: its first 90% trains,
its last 10% validates. Plain lr (as the bench runs it) and gbdt_lr under each
candidate setting are trained on the first part and scored (AUC) on the
validation part. The bench's test lines are never read.

  bench/gbdt_lr_valid.py --leap build/leap [--rows 200000] [--only NAME]
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from lr_compare import run, split_lines  # noqa: E402
from gbdt_compare import candidates, spec, validation_sets  # noqa: E402

# (label, arguments). "logbucket" / "topk=N": gbdt_lr's spec (numerics as
# log_bucket tokens instead of 255 quantile buckets; vocabulary top_k N);
# otherwise the bench's gbdt spec. The runs that chose the defaults
# (lr_holdout 0, lr_alpha 0.05, lr_epochs 3, lr_leaf_value 0.05) are listed
# in docs/PERFORMANCE.md.
CANDIDATES = [
    ("old defaults (holdout 0.5, 300 trees)", ["--set", "trees=300", "--set", "max_depth=6",
                                               "--set", "lr_holdout=0.5", "--set", "lr_alpha=0.01",
                                               "--set", "lr_epochs=1", "--set", "lr_leaf_value=1"]),
    ("LR alone (1 stump), lr spec", ["topk=1000000", "logbucket", "--set", "trees=1",
                                     "--set", "max_depth=1"]),
    ("previous defaults (trees: lambda_l2 1, no rank splits), lr spec",
     ["topk=1000000", "logbucket", "--set", "lambda_l2=1", "--set", "cat_rank_splits=0"]),
    ("defaults, lr spec", ["topk=1000000", "logbucket"]),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--leap", required=True)
    ap.add_argument("--rows", type=int, default=200000)
    ap.add_argument("--work", default="bench-out/gbdt_lr_valid")
    ap.add_argument("--criteo-dir", default=os.path.join(HERE, "..", "..", "shared", "data", "criteo"))
    ap.add_argument("--only", default="")
    ap.add_argument("--extra", action="append", default=[],
                    help="another candidate: 'label:--set a=1 --set b=2'")
    a = ap.parse_args()
    cands = candidates(CANDIDATES, a.extra)
    sets = validation_sets(a.leap, a.rows, a.work, a.criteo_dir, a.only)
    for name, src, w in sets:
        full, test = os.path.join(w, "full.tsv"), os.path.join(w, "test.tsv")
        split_lines(src, full, test)  # the bench's train part; test.tsv is removed unread
        os.remove(test)
        tr, va = os.path.join(w, "train.tsv"), os.path.join(w, "valid.tsv")
        n = split_lines(full, tr, va)
        vds = os.path.join(w, "valid.lds")
        run([a.leap, "ingest", "--format", "criteo", va, "-o", vds])
        sp = os.path.join(w, "spec.yaml")
        spec(sp, 255, 1000)

        def auc(model, extra):
            mp = os.path.join(w, "m.leap")
            run([a.leap, "train", "--model", model, "--train", tr, "-o", mp, "--threads", "2",
                 "--quiet"] + extra)
            _, _, ev = run([a.leap, "eval", "--model", mp, "--data", vds, "--json"])
            return json.loads(ev)["metrics"]["auc"]
        base = auc("lr", ["--epochs", "3", "--set", "hash_bits=22"])
        print("%s (%d / %d rows): lr %.5f" % (name, n[0], n[1], base), flush=True)
        for label, extra in cands:
            topk = [int(e[5:]) for e in extra if e.startswith("topk=")]
            logb = "logbucket" in extra
            extra = [e for e in extra if not e.startswith("topk=") and e != "logbucket"]
            s2 = sp
            if topk or logb:
                s2 = os.path.join(w, "spec_%s_%s.yaml" % (topk, logb))
                spec(s2, 255, topk[0] if topk else 1000, logb)
            v = auc("gbdt_lr", ["--transform", s2] + extra)
            print("  gbdt_lr %-40s %.5f  (%+.5f)" % (label, v, v - base), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
