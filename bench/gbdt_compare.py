#!/usr/bin/python3
"""gbdt_compare.py — leap GBDT beside XGBoost on the same split, in one run.

Driven by bench/gbdt.sh. For each dataset (rows from `leap datagen`, then every
real Criteo sample in the shared data folder) the raw TSV is split by line
order (first 90% train, last 10% test) and:

  leap:    train --model gbdt --transform spec.yaml on the raw train file
           (parse on all cores, fit the transform: numerics bucketize 255
           quantiles, categoricals vocabulary top 1000; then 300 trees, depth 6,
           lr 0.1, 2 threads)              -> end-to-end and fit seconds, peak RSS
           eval on the ingested test file  -> test AUC, logloss
           bench/score_bench.c             -> batch rows/s (1 thread), 1-row p50/p99
           the same with --model lr (FTRL, hashed) and --model gbdt_lr (its
           defaults; numerics log_bucket, categoricals vocabulary of every
           value, as lr sees them, for its LR)  -> test AUC
  xgboost: bench/xgb_gbdt.py (read_csv, frequency + out-of-fold target
           encoding, hist, same trees/depth/lr/bins/threads)

and prints one table per dataset plus the ratios. Peak RSS of each leap
process is read with wait4(); XGBoost reports its own.
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from lr_compare import run, split_lines  # noqa: E402


def criteo_sets(criteo_dir, work, only):
    """(name, file, work dir) of every real Criteo sample, its work dir made."""
    out = []
    for src in sorted(glob.glob(os.path.join(criteo_dir, "*.tsv.gz"))):
        name = os.path.basename(src)
        if only and only not in name:
            continue
        w = os.path.join(work, name.split(".")[0])
        os.makedirs(w, exist_ok=True)
        out.append((name, src, w))
    return out


def candidates(defaults, extra):
    """Candidate settings: the defaults, then each --extra 'label:--set a=1 --set b=2'."""
    out = list(defaults)
    for e in extra:
        label, args = e.split(":", 1)
        out.append((label, args.split()))
    return out


def validation_sets(leap, rows, work, criteo_dir, only):
    """(name, file, work dir) for choosing settings on validation splits: `rows` generated
    rows of seed 7 (the bench uses seed 42), then every Criteo sample."""
    os.makedirs(work, exist_ok=True)
    sets = []
    if rows > 0 and only in "datagen":
        w = os.path.join(work, "synth")
        os.makedirs(w, exist_ok=True)
        src = os.path.join(w, "synth_%d.tsv" % rows)
        if not os.path.exists(src):
            run([leap, "datagen", "--rows", str(rows), "--seed", "7", "-o", src])
        sets.append(("datagen %d seed 7" % rows, src, w))
    return sets + criteo_sets(criteo_dir, work, only)


def spec(path, max_bin, top_k, log_bucket=False):
    with open(path, "w") as f:
        f.write("features:\n")
        for i in range(1, 14):
            if log_bucket:
                f.write("  - source: I%d\n    ops: [log_bucket]\n" % i)
            else:
                f.write("  - source: I%d\n    ops: [bucketize: {quantiles: %d}]\n" % (i, max_bin))
        for i in range(1, 27):
            f.write("  - source: C%d\n    ops: [vocabulary: {top_k: %d}]\n" % (i, top_k))


def leap_side(leap, score_bench, train, test, work, a):
    r = {}
    sp = os.path.join(work, "spec.yaml")
    spec(sp, 255, 1000)
    tds = os.path.join(work, "test.lds")
    run([leap, "ingest", "--format", "criteo", test, "-o", tds])
    model = os.path.join(work, "gbdt.leap")
    sets = ["--set", "trees=%d" % a.trees, "--set", "max_depth=6", "--set", "learning_rate=0.1",
            "--set", "max_bin=255"]
    secs, rss, out = run([leap, "train", "--model", "gbdt", "--train", train, "--transform", sp,
                          "-o", model, "--threads", str(a.threads)] + sets)
    r["train_s"], r["peak_rss_mb"] = secs, rss
    m = re.search(r"fitted transform .*?([0-9.]+) s\n", out)
    r["transform_s"] = float(m.group(1)) if m else float("nan")
    m = re.search(r"trained gbdt: .*, ([0-9.]+) s ->", out)
    r["fit_s"] = float(m.group(1)) if m else float("nan")
    _, _, ev = run([leap, "eval", "--model", model, "--data", tds, "--json"])
    met = json.loads(ev)["metrics"]
    r["auc"], r["logloss"] = met["auc"], met["logloss"]
    _, _, sb = run([score_bench, model, tds])
    r.update({k: v for k, v in json.loads(sb).items() if k != "rows"})
    # gbdt_lr at its defaults, on a spec that gives its LR what plain lr sees
    # (numerics as Criteo log-bucket tokens, every category) next to the leaves
    sp_lr = os.path.join(work, "spec_lr.yaml")
    spec(sp_lr, 255, 1000000, log_bucket=True)
    for name, extra in [("lr", ["--epochs", "3", "--set", "hash_bits=22"]),
                        ("gbdt_lr", ["--transform", sp_lr])]:
        mp = os.path.join(work, name + ".leap")
        run([leap, "train", "--model", name, "--train", train, "-o", mp, "--threads",
             str(a.threads), "--quiet"] + extra)
        _, _, ev = run([leap, "eval", "--model", mp, "--data", tds, "--json"])
        r[name + "_auc"] = json.loads(ev)["metrics"]["auc"]
    # the difference's standard error on these test rows (paired: DeLong)
    _, _, pr = run(["/usr/bin/python3", os.path.join(HERE, "paired.py"), leap,
                    os.path.join(work, "gbdt_lr.leap"), os.path.join(work, "lr.leap"), tds])
    r["gbdt_lr_minus_lr_auc_se"] = json.loads(pr.strip().splitlines()[-1])["auc_diff_se"]
    return r


def xgb_side(train, test, a):
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", OPENBLAS_NUM_THREADS="1")
    _, _, out = run(["/usr/bin/python3", os.path.join(HERE, "xgb_gbdt.py"), train, test,
                     "--trees", str(a.trees), "--threads", str(a.threads)], env=env)
    return json.loads(out.strip().splitlines()[-1])


def report(name, rows, L, X):
    print("\n### %s (%d train rows / %d test rows)\n" % (name, rows[0], rows[1]))
    print("| | leap gbdt | XGBoost hist | leap / XGBoost |")
    print("|---|---:|---:|---:|")

    def row(label, lv, xv, fmt, ratio=True):
        r = "%.3f" % (lv / xv) if ratio and xv else ""
        print("| %s | %s | %s | %s |" % (label, fmt % lv, fmt % xv, r))
    row("raw file -> model, s", L["train_s"], X["train_s"], "%.2f")
    row("  of which training the trees, s", L["fit_s"], X["fit_s"], "%.2f")
    print("|   leap transform fit / XGBoost read + encode, s | %.2f | %.2f | |"
          % (L["transform_s"], X["read_s"] + X["encode_s"]))
    row("peak RSS MB", L["peak_rss_mb"], X["peak_rss_mb"], "%.0f")
    row("batch scoring rows/s, 1 thread", L["batch_rows_per_s"], X["batch_rows_per_s"], "%.0f")
    row("1-row latency p50, us", L["p50_us"], X["p50_us"], "%.2f")
    row("1-row latency p99, us", L["p99_us"], X["p99_us"], "%.2f")
    print("| 1-row featurize + score p50 / p99, us | %.2f / %.2f | | |"
          % (L["fz_p50_us"], L["fz_p99_us"]))
    print("| test AUC | %.5f | %.5f | %+.5f |" % (L["auc"], X["auc"], L["auc"] - X["auc"]))
    print("| test logloss | %.5f | %.5f | %+.5f |"
          % (L["logloss"], X["logloss"], L["logloss"] - X["logloss"]))
    d, se = L["gbdt_lr_auc"] - L["lr_auc"], L["gbdt_lr_minus_lr_auc_se"]
    print("| leap lr (FTRL, 3 epochs) / gbdt_lr test AUC | %.5f / %.5f | | %+.5f (s.e. %.4f, z %+.1f) |"
          % (L["lr_auc"], L["gbdt_lr_auc"], d, se, d / se if se > 0 else float("nan")))
    return {"name": name, "rows": rows, "leap": L, "xgboost": X}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--leap", required=True)
    ap.add_argument("--score-bench", required=True)
    ap.add_argument("--rows", type=int, default=1000000)
    ap.add_argument("--trees", type=int, default=300)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--work", default="bench-out/gbdt")
    ap.add_argument("--criteo-dir", default=os.path.join(HERE, "..", "..", "shared", "data", "criteo"))
    ap.add_argument("--only", default="", help="run only datasets whose name contains this")
    ap.add_argument("--json")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    print("machine: %s, %d cores; %d trees, depth 6, learning rate 0.1, 256 bins, %d threads"
          % (os.uname().machine, os.cpu_count(), a.trees, a.threads))
    sets = []
    if a.rows > 0 and a.only in "datagen":
        w = os.path.join(a.work, "synth")
        os.makedirs(w, exist_ok=True)
        src = os.path.join(w, "synth.tsv")
        _, _, gen = run([a.leap, "datagen", "--rows", str(a.rows), "--seed", "42", "-o", src])
        bayes = re.search(r"bayes_auc\s+(\S+)", gen).group(1)
        sets.append(("leap datagen --rows %d --seed 42 (Bayes AUC %s)" % (a.rows, bayes), src, w))
    sets += criteo_sets(a.criteo_dir, a.work, a.only)
    results = []
    for name, src, w in sets:
        tr, te = os.path.join(w, "train.tsv"), os.path.join(w, "test.tsv")
        rows = split_lines(src, tr, te)
        X = xgb_side(tr, te, a)
        L = leap_side(a.leap, a.score_bench, tr, te, w, a)
        results.append(report(name, rows, L, X))
    print("\nsummary (goals: train <= 0.5x, RSS <= 0.5x, batch >= 7x, p99 <= 10 us, AUC >= XGBoost - 0.001)")
    for r in results:
        L, X = r["leap"], r["xgboost"]
        print("  %-40s train %.2fx  RSS %.2fx  batch %.1fx  p99 %.1f us  AUC %+.4f  gbdt_lr-lr %+.4f"
              " (s.e. %.4f)"
              % (r["name"][:40], L["train_s"] / X["train_s"], L["peak_rss_mb"] / X["peak_rss_mb"],
                 L["batch_rows_per_s"] / X["batch_rows_per_s"], L["p99_us"], L["auc"] - X["auc"],
                 L["gbdt_lr_auc"] - L["lr_auc"], L["gbdt_lr_minus_lr_auc_se"]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
