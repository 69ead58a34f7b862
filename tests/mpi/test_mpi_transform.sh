#!/usr/bin/env bash
# MPI analyze pass: `mpirun -np 2 leap transform fit` gives the same fitted
# state as one process — vocabularies (entries, counts, order) and
# standardize moments exactly, quantile boundaries within the KLL sketch's
# stated rank-error bound (checked against the exact ranks of the raw data).
set -euo pipefail
: "${LEAP:?set LEAP to the leap binary}"
MPIEXEC=${MPIEXEC:-mpirun}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
mpi=("$MPIEXEC" --oversubscribe -np 2)
[ "$(id -u)" -eq 0 ] && mpi=("$MPIEXEC" --allow-run-as-root --oversubscribe -np 2)

"$LEAP" datagen --rows 200000 --seed 9 -o d.tsv >/dev/null
"$LEAP" ingest --format criteo d.tsv -o d.lds --row-group-rows 8192 >/dev/null 2>&1
cat > spec.yaml <<'YAML'
features:
  - source: [I1, I5, I6, I11]
    ops: [bucketize: {quantiles: 20}]
  - name: I5z
    source: I5
    ops: [log1p, standardize]
  - source: [C1, C3, C6, C14, C23]
    ops: [vocabulary: {min_count: 2, oov_buckets: 4}]
  - name: C3approx
    source: C3
    ops: [vocabulary: {mode: approx, capacity: 4096, top_k: 100}]
YAML
"$LEAP" transform fit --spec spec.yaml --data d.lds -o one.ltf --threads 2 2>/dev/null
"${mpi[@]}" "$LEAP" transform fit --spec spec.yaml --data d.lds -o two.ltf --threads 1 2>two.log
grep -q "1 thread(s) x 2 rank(s)" two.log || { echo "FAIL: not fitted by 2 ranks: $(cat two.log)"; exit 1; }
"$LEAP" transform show one.ltf --json > one.json
"$LEAP" transform show two.ltf --json > two.json

python3 - d.tsv one.json two.json <<'PY'
import json, sys, bisect
data, a, b = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
cols = {"I1": 1, "I5": 5, "I6": 6, "I11": 11}
vals = {k: [] for k in cols}
for line in open(data):
    f = line.rstrip("\n").split("\t")
    for k, i in cols.items():
        if f[i] != "":
            vals[k].append(float(f[i]))
for v in vals.values():
    v.sort()
fa = {f["name"]: f for f in a["features"]}
fb = {f["name"]: f for f in b["features"]}
assert fa.keys() == fb.keys()
checked = 0
for name, f1 in fa.items():
    f2 = fb[name]
    for o1, o2 in zip(f1["ops"], f2["ops"]):
        if o1["op"] == "vocabulary" and o1["mode"] == "exact":
            assert o1["entries"] == o2["entries"], f"{name}: vocabularies differ"
            assert o1["size"] > 0
            checked += 1
        elif o1["op"] == "standardize":
            assert abs(o1["mean"] - o2["mean"]) <= 1e-9 * abs(o1["mean"]), (name, o1, o2)
            assert abs(o1["std"] - o2["std"]) <= 1e-9 * o1["std"], (name, o1, o2)
            checked += 1
        elif o1["op"] == "bucketize":
            v = vals[name]
            n = len(v)
            K = o1["quantiles"]
            for run in (o1, o2):
                eps = run["rank_error"]
                assert 0 < eps < 0.02
                for bnd in run["boundaries"]:
                    lo, hi = bisect.bisect_left(v, bnd) / n, bisect.bisect_right(v, bnd) / n
                    assert any(lo - eps <= j / K <= hi + eps for j in range(1, K)), \
                        f"{name}: boundary {bnd} has rank [{lo:.4f}, {hi:.4f}], bound {eps}"
            checked += 1
assert checked == 4 + 1 + 5, checked
print(f"2-rank fit == 1-rank fit: {checked} fitted ops checked")
PY
echo "test_mpi_transform: ok"
