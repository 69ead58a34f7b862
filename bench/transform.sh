#!/usr/bin/env bash
# Benchmark: leap transform fit + apply vs scikit-learn (KBinsDiscretizer +
# OrdinalEncoder + FeatureHasher) on the same columns, same split, same run;
# and LR test AUC with plain hashing vs with the transform spec
# (bench/transform_spec.yaml).
# Usage: bench/transform.sh [ROWS]   (default 1000000 generated rows; also every
# real Criteo sample in ../shared/data/criteo when present)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup --bench
[ -x build/leap ] || { cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build build -j; }
exec /usr/bin/python3 bench/transform_compare.py --leap build/leap --rows "${1:-1000000}" \
    --work bench-out/transform --json bench-out/transform.json
