#!/usr/bin/python3
"""transform_compare.py — leap transforms beside scikit-learn, one run.

Driven by bench/transform.sh. For the generated data (`leap datagen`, whose
hidden truth has field-pair interactions) and every real Criteo sample in the
shared data folder: one split of the raw TSV (first 90% of lines to train,
the rest to test), then

  throughput  leap transform fit (train) + apply --discard (train, test), all
              threads, wall time of the commands, from the ingested datasets;
              scikit-learn: bench/sklearn_transform.py (KBinsDiscretizer +
              OrdinalEncoder + FeatureHasher on the same columns; reading the
              TSV untimed)
  accuracy    leap LR (FTRL, same options) with plain hashing vs with the
              transform, test AUC and logloss: bench/transform_spec.yaml on the
              generated data (its crosses are the generator's interacting
              pairs), bench/transform_spec_criteo.yaml on the real samples

and prints a table per dataset plus the throughput ratio.
"""
import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from lr_compare import run, split_lines  # noqa: E402


def eval_json(leap, model, data):
    _, _, out = run([leap, "eval", "--model", model, "--data", data, "--json"])
    d = json.loads(out[out.index("{"):])
    m = d.get("metrics", d)
    return m["auc"], m["logloss"]


def one(leap, name, src, work, threads, epochs, spec):
    os.makedirs(work, exist_ok=True)
    tr, te = os.path.join(work, "train.tsv"), os.path.join(work, "test.tsv")
    n_tr, n_te = split_lines(src, tr, te)
    trd, ted = os.path.join(work, "train.lds"), os.path.join(work, "test.lds")
    run([leap, "ingest", "--format", "criteo", tr, "-o", trd])
    run([leap, "ingest", "--format", "criteo", te, "-o", ted])
    ltf = os.path.join(work, "t.ltf")
    t_fit, rss_fit, _ = run([leap, "transform", "fit", "--spec", spec, "--data", trd, "-o", ltf,
                             "--threads", str(threads)])
    t_a1, _, _ = run([leap, "transform", "apply", "--transform", ltf, "--data", trd, "--discard",
                      "--threads", str(threads)])
    t_a2, _, _ = run([leap, "transform", "apply", "--transform", ltf, "--data", ted, "--discard",
                      "--threads", str(threads)])
    leap_s = t_fit + t_a1 + t_a2
    _, _, out = run(["/usr/bin/python3", os.path.join(HERE, "sklearn_transform.py"), tr, te])
    sk = json.loads(out.strip().splitlines()[-1])
    res = {"name": name, "train_rows": n_tr, "test_rows": n_te, "leap_fit_apply_s": leap_s,
           "leap_fit_s": t_fit, "leap_fit_rss_mb": rss_fit,
           "leap_rows_per_s": (n_tr + n_te) / leap_s, "sklearn_fit_apply_s": sk["seconds"],
           "sklearn_rows_per_s": sk["rows_per_s"]}
    res["speedup"] = res["leap_rows_per_s"] / res["sklearn_rows_per_s"]
    common = ["--train", trd, "--epochs", str(epochs), "--threads", "1", "--seed", "1", "--quiet"]
    plain, spec_m = os.path.join(work, "plain.leap"), os.path.join(work, "spec.leap")
    run([leap, "train", "--model", "lr", "-o", plain] + common)
    run([leap, "train", "--model", "lr", "-o", spec_m, "--transform", ltf] + common)
    res["auc_plain"], res["logloss_plain"] = eval_json(leap, plain, ted)
    res["auc_transform"], res["logloss_transform"] = eval_json(leap, spec_m, ted)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--leap", required=True)
    ap.add_argument("--rows", type=int, default=1000000)
    ap.add_argument("--work", default="bench-out/transform")
    ap.add_argument("--json")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    spec = os.path.join(HERE, "transform_spec.yaml")
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    gen = os.path.join(args.work, "gen.tsv")
    run([args.leap, "datagen", "--rows", str(args.rows), "--seed", "42", "-o", gen])
    sets = [("datagen %d" % args.rows, gen, 1, spec)]
    spec_criteo = os.path.join(HERE, "transform_spec_criteo.yaml")
    shared = os.path.join(HERE, "..", "..", "shared", "data", "criteo")
    for f in sorted(glob.glob(os.path.join(shared, "*.tsv.gz"))):
        sets.append((os.path.basename(f).replace(".tsv.gz", ""), f, 3, spec_criteo))
    if len(sets) == 1:
        print("note: ../shared/data/criteo not found; real-data rows skipped")
    results = []
    for name, src, epochs, sp in sets:
        r = one(args.leap, name, src, os.path.join(args.work, re.sub(r"\W", "_", name)),
                args.threads, epochs, sp)
        results.append(r)
        print("\n== %s (%d train / %d test rows, LR FTRL %d epoch(s), spec %s)" %
              (name, r["train_rows"], r["test_rows"], epochs, os.path.basename(sp)))
        print("  %-34s %12s %12s" % ("", "leap", "scikit-learn"))
        print("  %-34s %12.2f %12.2f" % ("fit + apply seconds", r["leap_fit_apply_s"],
                                          r["sklearn_fit_apply_s"]))
        print("  %-34s %12.0f %12.0f   (%.1fx)" % ("rows/s", r["leap_rows_per_s"],
                                                   r["sklearn_rows_per_s"], r["speedup"]))
        print("  %-34s %12.5f %12.5f" % ("test AUC: plain hashing | transform", r["auc_plain"],
                                          r["auc_transform"]))
        print("  %-34s %12.5f %12.5f" % ("test logloss: plain | transform", r["logloss_plain"],
                                          r["logloss_transform"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
