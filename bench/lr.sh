#!/usr/bin/env bash
# Benchmark: leap LR (FTRL) vs scikit-learn (SGDClassifier and lbfgs
# LogisticRegression on FeatureHasher 2^20) on the same split, same run.
# Usage: bench/lr.sh [ROWS]   (default 1000000 generated rows; also every
# real Criteo sample in ../shared/data/criteo when present)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup --bench
[ -x build/leap ] || { cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build build -j; }
export OMP_WAIT_POLICY=PASSIVE
exec /usr/bin/python3 bench/lr_compare.py --leap build/leap --rows "${1:-1000000}" \
    --work bench-out/lr --json bench-out/lr.json
