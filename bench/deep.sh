#!/usr/bin/env bash
# Benchmark: leap's embedding models (FM, FFM, DeepFM, DCN-v2, DLRM-style)
# beside LR and beside the same DeepFM and DCN-v2 in PyTorch (CPU), on the
# same split and hashed features, in one run. Prints training examples/s,
# batch and one-row scoring speed, test AUC and logloss, peak RSS, ratios.
# Usage: bench/deep.sh [ROWS] [extra deep_compare.py options]
#   (default 1000000 generated rows; also every real Criteo sample in
#    ../shared/data/criteo when present)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup --bench
[ -x build/leap ] || { cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build build -j2; }
mkdir -p bench-out
# the inference timer links the library (and MPI, which libleap uses when built with it)
cc -O2 -std=gnu11 -Iinclude -Isrc bench/deep_infer.c build/libleap.a \
    $(pkg-config --libs openblas libzstd libxxhash libcyaml yaml-0.1 libcjson) \
    -lsqlite3 -lcivetweb -lz -lm -lpthread $(mpicc --showme:link 2>/dev/null || true) \
    -o bench-out/deep_infer
export OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1
rows=${1:-1000000}
shift || true
exec /usr/bin/python3 bench/deep_compare.py --leap build/leap --infer bench-out/deep_infer \
    --rows "$rows" --work bench-out/deep --json bench-out/deep.json "$@"
