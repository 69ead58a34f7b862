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
    # close_fds=False lets Python start the child with posix_spawn (no copy of
    # this process's pages is charged to the child's peak RSS)
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                         close_fds=False)
    out = p.stdout.read().decode()
    _, status, ru = os.wait4(p.pid, 0)
    secs = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.stderr.write(out)
        raise SystemExit("command failed (%d): %s" % (p.returncode, " ".join(cmd)))
    return secs, ru.ru_maxrss / 1024.0, out


def split_lines(src, train, test, frac=0.9):
    """First 90% of the lines to train, the rest to test, streamed: this
    process stays small, so the peak RSS that wait4() reports for a child
    (which counts the pages it shared with us before exec) is the child's own."""
    opener = gzip.open if src.endswith(".gz") else open
    with opener(src, "rb") as f:
        total = sum(1 for _ in f)
    cut = int(total * frac)
    with opener(src, "rb") as f, open(train, "wb") as tr, open(test, "wb") as te:
        for i, line in enumerate(f):
            (tr if i < cut else te).write(line)
    return cut, total - cut


def leap_side(leap, train, test, work, threads, configs, sets):
    """Speeds that do not depend on the optimizer, then one run per config
    (label, extra train arguments)."""
    r = {"runs": {}}
    size = os.path.getsize(train)
    run([leap, "ingest", "--format", "criteo", "--parse-only", "--threads", "1", train])  # warm cache
    secs, _, out = run([leap, "ingest", "--format", "criteo", "--parse-only", "--threads", "1", train])
    m = re.search(r"([0-9.]+) MB/s", out)
    r["parse_mb_s"] = float(m.group(1)) if m else size / 1e6 / secs  # parse loop alone, 1 core
    ds = os.path.join(work, "train.lds")
    secs, _, _ = run([leap, "ingest", "--format", "criteo", "--threads", "1", train, "-o", ds])
    r["ingest_mb_s_1core"] = size / 1e6 / secs  # whole command: read, parse, compress, fsync
    secs, _, _ = run([leap, "ingest", "--format", "criteo", "--threads", str(threads), train, "-o", ds])
    r["ingest_s_all"] = secs
    tds = os.path.join(work, "test.lds")
    run([leap, "ingest", "--format", "criteo", test, "-o", tds])
    for ci, (label, extra) in enumerate(configs):
        q = {}
        model = os.path.join(work, "lr_c%d.leap" % ci)
        # raw file -> trained model in one command (parsed on all cores into memory)
        q["end_to_end_s"], q["peak_rss_mb"], _ = run(
            [leap, "train", "--model", "lr", "--train", train, "-o", model, "--threads",
             str(threads), "--quiet"] + extra + sets)
        # the same through a dataset on disk: ingest, then train from the dataset
        t_tr, _, _ = run([leap, "train", "--model", "lr", "--train", ds, "-o", model + ".ds",
                          "--threads", str(threads), "--quiet"] + extra + sets)
        q["via_dataset_s"] = r["ingest_s_all"] + t_tr
        # FTRL speed per core, reading the compressed dataset
        m1 = os.path.join(work, "lr1_c%d.leap" % ci)
        run([leap, "train", "--model", "lr", "--train", ds, "-o", m1, "--threads", "1",
             "--quiet"] + extra + sets)
        _, _, insp = run([leap, "inspect", m1])
        q["train_ex_s_1core"] = float(re.search(r"trainer.examples_per_s\s+(\S+)", insp).group(1))
        _, _, insp = run([leap, "inspect", model + ".ds"])
        q["train_ex_s_all"] = float(re.search(r"trainer.examples_per_s\s+(\S+)", insp).group(1))
        _, _, ev = run([leap, "eval", "--model", model, "--data", tds, "--json"])
        met = json.loads(ev)["metrics"]
        q["auc"], q["logloss"] = met["auc"], met["logloss"]
        r["runs"][label] = q
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
    eps = list(L["runs"])
    print("\n### %s (%d train rows / %d test rows)\n" % (name, rows[0], rows[1]))
    head = "".join(" leap %s |" % e for e in eps)
    print("| |%s sklearn SGD | sklearn lbfgs |" % head)
    print("|---|" + "---|" * (len(eps) + 2))
    def row(label, leap_vals, sgd_v, lb_v):
        print("| %s | %s | %s | %s |" % (label, " | ".join(leap_vals), sgd_v, lb_v))
    row("parse MB/s, 1 core", ["%.0f" % L["parse_mb_s"]] * len(eps),
        "%.1f (read_csv)" % S["parse_mb_per_s"], "same")
    row("dataset write MB/s of input, 1 core", ["%.0f" % L["ingest_mb_s_1core"]] * len(eps), "", "")
    row("raw file -> trained model, s", ["%.2f" % L["runs"][e]["end_to_end_s"] for e in eps],
        "%.2f" % sgd["end_to_end_s"], "%.2f" % lb["end_to_end_s"])
    row("  same through a dataset on disk, s", ["%.2f" % L["runs"][e]["via_dataset_s"] for e in eps], "", "")
    row("training examples/s", ["%.2fM/core, %.2fM all" % (L["runs"][e]["train_ex_s_1core"] / 1e6,
                                                          L["runs"][e]["train_ex_s_all"] / 1e6) for e in eps],
        "%.2fM" % (sgd["train_examples_per_s"] / 1e6), "%.2fM (lower bound)" % (lb["train_examples_per_s"] / 1e6))
    row("test AUC", ["%.4f" % L["runs"][e]["auc"] for e in eps], "%.4f" % sgd["test_auc"], "%.4f" % lb["test_auc"])
    row("test logloss", ["%.4f" % L["runs"][e]["logloss"] for e in eps],
        "%.4f" % sgd["test_logloss"], "%.4f" % lb["test_logloss"])
    row("peak RSS MB", ["%.0f" % L["runs"][e]["peak_rss_mb"] for e in eps],
        "%.0f (process)" % sgd["peak_rss_mb"], "%.0f (process)" % lb["peak_rss_mb"])
    print()
    out = {"name": name, "leap": L, "sklearn": S, "checks": []}
    print("parse: leap %.0fx read_csv" % (L["parse_mb_s"] / S["parse_mb_per_s"]))
    for e in eps:
        q = L["runs"][e]
        ratio = sgd["end_to_end_s"] / q["end_to_end_s"]
        ok = q["auc"] >= best_auc
        print("leap %s: raw file -> model %.1fx faster than the SGD pipeline (%.1fx than lbfgs); "
              "AUC %+.4f vs the better sklearn model (%s)"
              % (e, ratio, lb["end_to_end_s"] / q["end_to_end_s"], q["auc"] - best_auc,
                 "ok" if ok else "BELOW"))
        out["checks"].append({"config": e, "e2e_ratio_sgd": ratio, "auc_ok": ok})
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--leap", required=True)
    ap.add_argument("--rows", type=int, default=1000000)
    ap.add_argument("--work", default="bench-out/lr")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--epochs", default="1,3", help="comma-separated FTRL epoch counts to run")
    ap.add_argument("--criteo-dir", default=os.path.join(HERE, "..", "..", "shared", "data", "criteo"))
    ap.add_argument("--json")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    sets = ["--set", "hash_bits=22"]
    results = []
    epochs = [int(e) for e in a.epochs.split(",")]

    def configs(S):
        """FTRL with leap's defaults, then L-BFGS on sklearn's objective (l2 = 1/C)."""
        c = [("ftrl, %d epoch%s" % (e, "" if e == 1 else "s"), ["--epochs", str(e)]) for e in epochs]
        l2 = 1.0 / S["models"]["lbfgs"]["params"]["C"]
        c.append(("lbfgs, l2=%g" % l2, ["--set", "optimizer=lbfgs", "--set", "l2=%g" % l2]))
        return c
    print("machine: %s, %d cores; leap threads %d; leap epochs %s; leap options: %s"
          % (os.uname().machine, os.cpu_count(), a.threads, a.epochs, " ".join(sets)))
    # 1. generated data
    w = os.path.join(a.work, "synth")
    os.makedirs(w, exist_ok=True)
    synth = os.path.join(w, "synth.tsv")
    _, _, gen = run([a.leap, "datagen", "--rows", str(a.rows), "--seed", "42", "-o", synth])
    bayes = re.search(r"bayes_auc\s+(\S+)", gen).group(1)
    tr, te = os.path.join(w, "train.tsv"), os.path.join(w, "test.tsv")
    rows = split_lines(synth, tr, te)
    S = sklearn_side(tr, te, w)
    L = leap_side(a.leap, tr, te, w, a.threads, configs(S), sets)
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
        S = sklearn_side(tr, te, w)
        L = leap_side(a.leap, tr, te, w, a.threads, configs(S), sets)
        results.append(report(name, rows, L, S))
    print("\nsummary")
    for r in results:
        for c in r["checks"]:
            print("  %-40s %-20s e2e %5.1fx the SGD pipeline; AUC >= best sklearn: %s"
                  % (r["name"][:40], c["config"], c["e2e_ratio_sgd"], "yes" if c["auc_ok"] else "NO"))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=2)
    shutil.rmtree(a.work, ignore_errors=True) if os.environ.get("LEAP_BENCH_CLEAN") else None
    return 0


if __name__ == "__main__":
    sys.exit(main())
