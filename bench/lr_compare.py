#!/usr/bin/python3
"""lr_compare.py — leap LR beside scikit-learn on the same split, in one run.

Driven by bench/lr.sh. For each dataset (generated rows from `leap datagen`,
then every real Criteo sample found in the shared data folder) it makes one
train/test split of the raw TSV (first 90% of lines / last 10%), then runs

  leap:    ingest --parse-only (1 thread)     -> parse MB/s per core
           ingest (1 thread)                  -> dataset write MB/s of input per core
           ingest + train (all threads)       -> end-to-end seconds raw file -> model
           train --threads 1                  -> FTRL examples/s per core
           ingest test + eval                 -> test AUC, logloss
  sklearn: bench/sklearn_lr.py (read_csv -> FeatureHasher 2^20 -> SGDClassifier, LogisticRegression)

and prints one table per dataset plus leap's ratios. Peak RSS of each leap
process is read with wait4(); sklearn reports its own.
It does not tune either side per dataset.
"""
import argparse
import glob
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run(cmd, env=None):
    """Runs cmd; returns (seconds, peak RSS MB, stdout+stderr). Raises on failure."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    out = p.stdout.read().decode()
    _, status, ru = os.wait4(p.pid, 0)
    secs = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.stderr.write(out)
        raise SystemExit("command failed (%d): %s" % (p.returncode, " ".join(cmd)))
    return secs, ru.ru_maxrss / 1024.0, out


def split_lines(src, train, test, frac=0.9):
    opener = gzip.open if src.endswith(".gz") else open
    with opener(src, "rb") as f:
        lines = f.readlines()
    cut = int(len(lines) * frac)
    with open(train, "wb") as f:
        f.writelines(lines[:cut])
    with open(test, "wb") as f:
        f.writelines(lines[cut:])
    return cut, len(lines) - cut


def leap_side(leap, train, test, work, threads, epochs, sets):
    r = {}
    size = os.path.getsize(train)
    _, _, out = run([leap, "ingest", "--format", "criteo", "--parse-only", "--threads", "1", train])
    secs, _, _ = run([leap, "ingest", "--format", "criteo", "--parse-only", "--threads", "1", train])
    r["parse_mb_s"] = size / 1e6 / secs  # whole-process time, includes start-up
    m = re.search(r"([0-9.]+) MB/s", out)
    r["parse_mb_s_inner"] = float(m.group(1)) if m else float("nan")
    ds = os.path.join(work, "train.lds")
    secs, _, _ = run([leap, "ingest", "--format", "criteo", "--threads", "1", train, "-o", ds])
    r["ingest_mb_s_1core"] = size / 1e6 / secs
    # end to end with all threads: raw file -> dataset -> trained model
    model = os.path.join(work, "lr.leap")
    t_ing, rss1, _ = run([leap, "ingest", "--format", "criteo", "--threads", str(threads), train, "-o", ds])
    train_cmd = [leap, "train", "--model", "lr", "--train", ds, "-o", model, "--threads",
                 str(threads), "--epochs", str(epochs), "--quiet"] + sets
    t_tr, rss2, _ = run(train_cmd)
    r["end_to_end_s"] = t_ing + t_tr
    r["peak_rss_mb"] = max(rss1, rss2)
    # training speed per core from the dataset
    model1 = os.path.join(work, "lr1.leap")
    run([leap, "train", "--model", "lr", "--train", ds, "-o", model1, "--threads", "1",
         "--epochs", str(epochs), "--quiet"] + sets)
    _, _, insp = run([leap, "inspect", model1])
    r["train_ex_s_1core"] = float(re.search(r"trainer.examples_per_s\s+(\S+)", insp).group(1))
    _, _, insp = run([leap, "inspect", model])
    r["train_ex_s_all"] = float(re.search(r"trainer.examples_per_s\s+(\S+)", insp).group(1))
    tds = os.path.join(work, "test.lds")
    run([leap, "ingest", "--format", "criteo", test, "-o", tds])
    _, _, ev = run([leap, "eval", "--model", model, "--data", tds, "--json"])
    met = json.loads(ev)["metrics"]
    r["auc"], r["logloss"] = met["auc"], met["logloss"]
    return r


def sklearn_side(train, test, work):
    js = os.path.join(work, "sklearn.json")
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    run(["/usr/bin/python3", os.path.join(HERE, "sklearn_lr.py"), "--train", train, "--test", test,
         "--model", "both", "--json", js], env=env)
    with open(js) as f:
        return json.load(f)


def report(name, rows, L, S):
    sgd, lb = S["models"]["sgd"], S["models"]["lbfgs"]
    best_auc = max(sgd["test_auc"], lb["test_auc"])
    print("\n### %s (%d train rows / %d test rows)\n" % (name, rows[0], rows[1]))
    print("| | leap lr (FTRL) | sklearn SGD | sklearn lbfgs | leap ratio |")
    print("|---|---|---|---|---|")
    print("| parse MB/s (1 core) | %.0f | %.1f (read_csv) | same | %.0fx |"
          % (L["parse_mb_s"], S["parse_mb_per_s"], L["parse_mb_s"] / S["parse_mb_per_s"]))
    print("| dataset write MB/s of input (1 core) | %.0f | | | |" % L["ingest_mb_s_1core"])
    print("| end to end raw file -> model, s | %.2f | %.2f | %.2f | %.1fx vs SGD |"
          % (L["end_to_end_s"], sgd["end_to_end_s"], lb["end_to_end_s"],
             sgd["end_to_end_s"] / L["end_to_end_s"]))
    print("| training examples/s | %.2fM (1 core), %.2fM (all) | %.2fM | %.2fM (lower bound) | %.1fx vs SGD |"
          % (L["train_ex_s_1core"] / 1e6, L["train_ex_s_all"] / 1e6, sgd["train_examples_per_s"] / 1e6,
             lb["train_examples_per_s"] / 1e6, L["train_ex_s_1core"] / sgd["train_examples_per_s"]))
    print("| test AUC | %.4f | %.4f | %.4f | %+.4f vs best |"
          % (L["auc"], sgd["test_auc"], lb["test_auc"], L["auc"] - best_auc))
    print("| test logloss | %.4f | %.4f | %.4f | |" % (L["logloss"], sgd["test_logloss"], lb["test_logloss"]))
    print("| peak RSS MB | %.0f | %.0f (process) | %.0f (process) | |"
          % (L["peak_rss_mb"], sgd["peak_rss_mb"], lb["peak_rss_mb"]))
    return {"name": name, "leap": L, "sklearn": S, "auc_ok": L["auc"] >= best_auc,
            "e2e_ratio": sgd["end_to_end_s"] / L["end_to_end_s"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--leap", required=True)
    ap.add_argument("--rows", type=int, default=1000000)
    ap.add_argument("--work", default="bench-out/lr")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--criteo-dir", default=os.path.join(HERE, "..", "..", "shared", "data", "criteo"))
    ap.add_argument("--json")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    sets = ["--set", "hash_bits=22"]
    results = []
    print("machine: %s, %d cores; leap threads %d; leap epochs %d"
          % (os.uname().machine, os.cpu_count(), a.threads, a.epochs))
    # 1. generated data
    w = os.path.join(a.work, "synth")
    os.makedirs(w, exist_ok=True)
    synth = os.path.join(w, "synth.tsv")
    _, _, gen = run([a.leap, "datagen", "--rows", str(a.rows), "--seed", "42", "-o", synth])
    bayes = re.search(r"bayes_auc\s+(\S+)", gen).group(1)
    tr, te = os.path.join(w, "train.tsv"), os.path.join(w, "test.tsv")
    rows = split_lines(synth, tr, te)
    L = leap_side(a.leap, tr, te, w, a.threads, a.epochs, sets)
    S = sklearn_side(tr, te, w)
    res = report("leap datagen --rows %d --seed 42 (Bayes AUC %s)" % (a.rows, bayes), rows, L, S)
    results.append(res)
    # 2. real Criteo samples
    files = sorted(glob.glob(os.path.join(a.criteo_dir, "*.tsv.gz")))
    if not files:
        print("\n(real Criteo samples not found in %s: skipped)" % a.criteo_dir)
    for src in files:
        name = os.path.basename(src)
        w = os.path.join(a.work, name.split(".")[0])
        os.makedirs(w, exist_ok=True)
        tr, te = os.path.join(w, "train.tsv"), os.path.join(w, "test.tsv")
        rows = split_lines(src, tr, te)
        L = leap_side(a.leap, tr, te, w, a.threads, a.epochs, sets)
        S = sklearn_side(tr, te, w)
        results.append(report(name, rows, L, S))
    print("\nsummary")
    for r in results:
        print("  %-60s e2e %.1fx faster than SGD pipeline; AUC >= best sklearn: %s"
              % (r["name"][:60], r["e2e_ratio"], "yes" if r["auc_ok"] else "NO"))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=2)
    shutil.rmtree(a.work, ignore_errors=True) if os.environ.get("LEAP_BENCH_CLEAN") else None
    return 0


if __name__ == "__main__":
    sys.exit(main())
