#!/usr/bin/python3
"""deep_compare.py — leap's embedding models beside PyTorch, in one run.

Driven by bench/deep.sh. For each dataset (generated rows from `leap
datagen`, then every real Criteo sample in the shared data folder) it makes
one train/test split of the raw TSV (first 90% of lines / last 10%), ingests
both, and runs

  leap:    lr (FTRL, the spine's baseline), fm, ffm, deepfm, dcn_v2, dlrm
           (`leap train --epochs 1 --threads T`), `leap eval` on the test
           split, bench/deep_infer.c for batch and one-row scoring speed
  PyTorch: bench/deep_torch.py — DeepFM and DCN-v2 built the same way, on the
           same hashed feature indices (`leap transform apply` with leap's
           bundle), Adam + SparseAdam, the same batch, lr, epochs and threads

with the deep models' settings of the issue: embedding dim 16, MLP
400-400-400, batch 1024, Adam (sparse for embeddings), lr 0.001, 1 epoch.
Prints a table per dataset, leap/PyTorch ratios, and the acceptance checks.
Peak RSS: leap processes by wait4(); PyTorch's own getrusage (with its data).
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

DEEP = ["--set", "embedding_dim=16", "--set", "hidden=400,400,400", "--set", "batch_size=1024",
        "--set", "lr=0.001", "--set", "optimizer=adam"]


def leap_model(leap, work, train_ds, test_ds, name, model, sets, threads, infer):
    out = os.path.join(work, name + ".leap")
    secs, rss, _ = run([leap, "train", "--model", model, "--train", train_ds, "-o", out,
                        "--epochs", "1", "--threads", str(threads), "--quiet"] + sets)
    _, _, insp = run([leap, "inspect", out])
    q = {"wall_s": secs, "peak_rss_mb": rss,
         "train_examples_per_s": float(re.search(r"trainer.examples_per_s\s+(\S+)", insp).group(1))}
    _, _, ev = run([leap, "eval", "--model", out, "--data", test_ds, "--json"])
    met = json.loads(ev)["metrics"]
    q["test_auc"], q["test_logloss"] = met["auc"], met["logloss"]
    if infer:
        _, _, txt = run([infer, out, test_ds, "5000", str(threads)])
        for line in txt.splitlines():
            k, v = line.split()
            try:
                q[k] = float(v)
            except ValueError:  # half_kernel: a name
                q[k] = v
    q["bundle"] = out
    return q


def torch_model(leap, work, bundle, train_tsv, test_tsv, kind, buckets, threads):
    svm_tr, svm_te = os.path.join(work, "train.svm"), os.path.join(work, "test.svm")
    # the bundle's featurizer (the same for every model of a dataset): written afresh for
    # each model, never left over from an earlier run on other rows
    run([leap, "transform", "apply", "--transform", bundle, "--data", train_tsv, "-o", svm_tr])
    run([leap, "transform", "apply", "--transform", bundle, "--data", test_tsv, "-o", svm_te])
    js = os.path.join(work, "torch_%s.json" % kind)
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    run(["/usr/bin/python3", os.path.join(HERE, "deep_torch.py"), "--train", svm_tr, "--test",
         svm_te, "--model", kind, "--buckets", str(buckets), "--threads", str(threads),
         "--json", js], env=env)
    with open(js) as f:
        return json.load(f)


def fmt(v, f="%.4f"):
    return "" if v is None else (f % v)


def report(name, rows, L, T, threads):
    print("\n### %s (%d train rows / %d test rows)\n" % (name, rows[0], rows[1]))
    cols = [("leap lr (FTRL)", L["lr"]), ("leap fm", L["fm"]), ("leap ffm", L["ffm"]),
            ("leap deepfm", L["deepfm"]), ("PyTorch deepfm", T.get("deepfm")),
            ("leap dcn_v2", L["dcn_v2"]), ("PyTorch dcn_v2", T.get("dcn_v2")),
            ("leap dlrm", L["dlrm"])]
    cols = [(c, q) for c, q in cols if q]
    print("| | " + " | ".join(c for c, _ in cols) + " |")
    print("|---|" + "---|" * len(cols))

    def row(label, key, f, scale=1.0):
        vals = [fmt(q[key] * scale, f) if key in q else "" for _, q in cols]
        if not any(vals):
            return
        print("| %s | %s |" % (label, " | ".join(vals)))
    row("training examples/s (%d threads)" % threads, "train_examples_per_s", "%.0f")
    row("batch scoring rows/s (1 thread; PyTorch: %d)" % threads, "batch_rows_per_s", "%.0f")
    row("batch scoring rows/s (%d threads)" % threads, "batch_rows_per_s_threads", "%.0f")
    row("one-row scoring p50 µs", "one_row_p50_us", "%.1f")
    row("one-row scoring p99 µs", "one_row_p99_us", "%.1f")
    row("test AUC", "test_auc", "%.4f")
    row("test logloss", "test_logloss", "%.4f")
    row("test AUC, f32 weights (default: fp16)", "auc_f32", "%.4f")
    row("max abs Δp, fp16 vs f32 weights", "max_dp_f16_vs_f32", "%.1e")
    row("max abs Δp, one row vs batch", "max_dp_one_row_vs_batch", "%.1e")
    row("peak RSS MB", "peak_rss_mb", "%.0f")
    print()
    checks = []
    for kind in ("deepfm", "dcn_v2"):
        if kind not in T:
            continue
        l, t = L[kind], T[kind]
        sp = l["train_examples_per_s"] / t["train_examples_per_s"]
        d_auc = l["test_auc"] - t["test_auc"]
        bt = l.get("batch_rows_per_s_threads", l["batch_rows_per_s"])
        print("%s: leap trains %.2fx PyTorch's examples/s, AUC %+.4f, batch scoring %.1fx "
              "(both on %d threads), one-row p50 %.1f µs vs %.1f µs, p99 %.1f µs vs %.1f µs"
              % (kind, sp, d_auc, bt / t["batch_rows_per_s"], threads, l["one_row_p50_us"],
                 t["one_row_p50_us"], l["one_row_p99_us"], t["one_row_p99_us"]))
        checks.append(("%s >= 1.5x PyTorch examples/s" % kind, sp >= 1.5))
        checks.append(("%s AUC >= PyTorch's" % kind, d_auc >= 0))
        checks.append(("%s one-row p99 <= 100 us" % kind, l["one_row_p99_us"] <= 100))
    lr = L["lr"]
    best_deep = max((L[k]["test_auc"], k) for k in ("deepfm", "dcn_v2", "dlrm"))
    kern = L["deepfm"].get("half_kernel")
    if kern:
        print("one-row fp16 kernel: %s" % kern)
    print("best deep model %s: AUC %+.4f vs LR" % (best_deep[1], best_deep[0] - lr["test_auc"]))
    checks.append(("a deep model beats LR's AUC", best_deep[0] > lr["test_auc"]))
    for k in ("fm", "ffm"):
        d = L[k]["test_logloss"] - lr["test_logloss"]
        se = L[k].get("logloss_minus_lr_se", float("nan"))
        print("%s: test logloss %+.5f vs LR (paired s.e. %.5f, z %+.1f)"
              % (k, d, se, d / se if se > 0 else float("nan")))
        checks.append(("%s logloss < LR's" % k, d < 0))
    return {"name": name, "rows": rows, "leap": {k: {x: y for x, y in v.items() if x != "bundle"}
                                                 for k, v in L.items()},
            "torch": T, "checks": checks}


def bench_one(a, name, src, work, infer, torch_on):
    os.makedirs(work, exist_ok=True)
    tr, te = os.path.join(work, "train.tsv"), os.path.join(work, "test.tsv")
    rows = split_lines(src, tr, te)
    trd, ted = os.path.join(work, "train.lds"), os.path.join(work, "test.lds")
    run([a.leap, "ingest", "--format", "criteo", tr, "-o", trd])
    run([a.leap, "ingest", "--format", "criteo", te, "-o", ted])
    hb = ["--set", "hash_bits=%d" % a.hash_bits]
    L = {}
    T = {}
    L["lr"] = leap_model(a.leap, work, trd, ted, "lr", "lr", hb, a.threads, None)
    L["fm"] = leap_model(a.leap, work, trd, ted, "fm", "fm", hb + a.fm_sets, a.threads, None)
    L["ffm"] = leap_model(a.leap, work, trd, ted, "ffm", "ffm", hb + a.ffm_sets, a.threads, None)
    for k in ("fm", "ffm"):  # the difference's standard error on these test rows (paired)
        _, _, pr = run(["/usr/bin/python3", os.path.join(HERE, "paired.py"), a.leap,
                        L[k]["bundle"], L["lr"]["bundle"], ted])
        L[k]["logloss_minus_lr_se"] = json.loads(pr.strip().splitlines()[-1])["logloss_diff_se"]
    # (a later --set wins: FFM runs at its own hash_bits; LR and FM at the common one)
    for kind in ("deepfm", "dcn_v2", "dlrm"):
        L[kind] = leap_model(a.leap, work, trd, ted, kind, kind, hb + DEEP, a.threads, infer)
        if torch_on and kind != "dlrm":
            T[kind] = torch_model(a.leap, work, L[kind]["bundle"], tr, te, kind,
                                  1 << a.hash_bits, a.threads)
    return report(name, rows, L, T, a.threads)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--leap", required=True)
    ap.add_argument("--infer", required=True, help="the deep_infer binary")
    ap.add_argument("--rows", type=int, default=1000000)
    ap.add_argument("--work", default="bench-out/deep")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--hash-bits", type=int, default=20)
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--synth-only", action="store_true")
    ap.add_argument("--criteo-dir", default=os.path.join(HERE, "..", "..", "shared", "data",
                                                         "criteo"))
    ap.add_argument("--json")
    a = ap.parse_args()
    # FM and FFM with their defaults (pair_gate: LR's FTRL first order, gated AdaGrad vectors, batch 32);
    # FFM's rows hold n_fields·k floats: 2^18 buckets keep its table at 165 MB
    a.fm_sets = []
    a.ffm_sets = ["--set", "hash_bits=18"]
    load = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else []
    print("machine: %s, %d cores, load average %s; threads %d; hash_bits %d; deep models: %s"
          % (os.uname().machine, os.cpu_count(), " ".join(load), a.threads, a.hash_bits,
             " ".join(DEEP[1::2])))
    results = []
    w = os.path.join(a.work, "synth")
    os.makedirs(w, exist_ok=True)
    synth = os.path.join(w, "synth.tsv")
    _, _, gen = run([a.leap, "datagen", "--rows", str(a.rows), "--seed", "42", "-o", synth])
    bayes = re.search(r"bayes_auc\s+(\S+)", gen).group(1)
    results.append(bench_one(a, "leap datagen --rows %d --seed 42 (Bayes AUC %s)" % (a.rows, bayes),
                             synth, w, a.infer, not a.no_torch))
    files = [] if a.synth_only else sorted(glob.glob(os.path.join(a.criteo_dir, "*.tsv.gz")))
    for src in files:
        name = os.path.basename(src)
        results.append(bench_one(a, name, src, os.path.join(a.work, name.split(".")[0]), a.infer,
                                 not a.no_torch))
    print("\nsummary")
    for r in results:
        for label, ok in r["checks"]:
            print("  %-40s %-40s %s" % (r["name"][:40], label, "yes" if ok else "NO"))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
