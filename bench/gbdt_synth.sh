#!/usr/bin/env bash
# Benchmark: leap GBDT vs XGBoost (hist) on the same generated pre-binned
# rows, same run. Until `leap train --transform` is on this branch, this is
# the GBDT comparison: it times the trees themselves (binning, histograms,
# splits, scoring) on identical inputs, without the CLI or the data reader.
# Usage: bench/gbdt_synth.sh [ROWS] [TREES]   (default 1000000 rows: 917504
# train / the rest test; 300 trees, depth 6, learning rate 0.1, 256 bins,
# 2 threads for training, 1 for scoring)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup --bench
[ -f build/libleap.a ] || { cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build build -j2; }
rows=${1:-1000000}
trees=${2:-300}
train=$(( (rows * 9 / 10) / 65536 * 65536 ))
out=bench-out/gbdt_synth
mkdir -p "$out"
libs=$(pkg-config --libs libzstd libxxhash libcyaml yaml-0.1 libcjson)
mpi=$(mpicc --showme:link 2>/dev/null || true)
cc -O2 -Iinclude bench/gbdt_synth.c build/libleap.a $libs -lsqlite3 -lcivetweb -lz -lm -lpthread \
    $mpi -o "$out/gbdt_synth"
echo "rows $rows (train $train), $trees trees, depth 6, lr 0.1, 256 bins, 2 threads"
DUMP="$out/rows.bin" "$out/gbdt_synth" "$rows" "$train" 2 "$trees" max_depth=6 \
    learning_rate=0.1 max_bin=255 > "$out/leap.json"
OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/gbdt_synth_xgb.py \
    "$out/rows.bin" "$train" 2 "$trees" > "$out/xgb.json"
/usr/bin/python3 - "$out/leap.json" "$out/xgb.json" <<'PY'
import json, sys
l, x = (json.load(open(p)) for p in sys.argv[1:3])
print("%-18s %12s %12s %9s" % ("", "leap", "xgboost", "ratio"))
for k in ["train_s", "peak_rss_mb", "batch_rows_per_s", "p50_us", "p99_us", "auc", "logloss"]:
    print("%-18s %12g %12g %9.3f" % (k, l[k], x[k], l[k] / x[k]))
PY
rm -f "$out/rows.bin"
