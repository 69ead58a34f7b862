#!/usr/bin/env bash
# bench/sweep.sh — the sweep acceptance run: 12 trials (a 4 x 3 grid over the
# FTRL learning rate alpha and the L2 strength) of bench/sweep_ctr.yaml (200k
# generated rows) with --jobs 2, plus the pipeline's default options as one
# more trial; prints the ranked table and the total cost, and the time.
# Usage: bash bench/sweep.sh [TRIALS_GRID_ALPHA] (default "0.01,0.03,0.1,0.3")
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
leap=$root/build/leap
[ -x "$leap" ] || { cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build "$root/build" -j2 >/dev/null; }
alphas=${1:-0.01,0.03,0.1,0.3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
cp "$root/bench/sweep_ctr.yaml" .
s=$(date +%s.%N)
"$leap" sweep sweep_ctr.yaml --param "train.alpha=[$alphas]" --param 'train.l2=[0.1,1,10]' \
    --jobs 2 --with-default --quiet --store "$tmp/leap.db"
e=$(date +%s.%N)
echo "sweep wall time: $(echo "$e - $s" | bc) s"
"$leap" runs show "$("$leap" runs list --store "$tmp/leap.db" --filter 'kind = sweep' | awk 'NR==2{print $1}')" \
    --store "$tmp/leap.db" | sed -n '/^cost/,/^params/p'
