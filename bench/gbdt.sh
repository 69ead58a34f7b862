#!/usr/bin/env bash
# Benchmark: leap GBDT (and lr, gbdt_lr) vs XGBoost hist on the same split,
# same run: 1 M rows from `leap datagen` (900k train / 100k test) and every
# real Criteo sample in ../shared/data/criteo. See bench/gbdt_compare.py.
# Usage: bench/gbdt.sh [ROWS] [TREES]   (default 1000000 rows, 300 trees)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup --bench
[ -x build/leap ] || { cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build build -j2; }
mkdir -p bench-out/gbdt
libs=$(pkg-config --libs libzstd libxxhash libcyaml yaml-0.1 libcjson)
mpi=$(mpicc --showme:link 2>/dev/null || true)
cc -O2 -Iinclude bench/score_bench.c build/libleap.a $libs -lsqlite3 -lcivetweb -lz -lm -lpthread \
    $mpi -o bench-out/gbdt/score_bench
# each scoring kernel on a model (run by hand after this script, e.g.
# bench-out/gbdt/gbdt_kernels bench-out/gbdt/synth/gbdt.leap bench-out/gbdt/synth/test.lds)
cc -O2 -Iinclude -Isrc bench/gbdt_kernels.c build/libleap.a $libs -lsqlite3 -lcivetweb -lz -lm \
    -lpthread $mpi -o bench-out/gbdt/gbdt_kernels
export OMP_WAIT_POLICY=PASSIVE
exec /usr/bin/python3 bench/gbdt_compare.py --leap build/leap --score-bench bench-out/gbdt/score_bench \
    --rows "${1:-1000000}" --trees "${2:-300}" --json bench-out/gbdt.json "${@:3}"
