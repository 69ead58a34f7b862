#!/usr/bin/env bash
# bench/track.sh — the tracking store: log 100,000 metric points in one
# batched call, 1,000 points one call (one transaction) each, write and list
# 10,000 runs (`leap runs list`, plain and with a filter and a sort), next to
# a straightforward Python sqlite3 baseline doing the same, and MLflow's
# published figures (mlflow issue 3010: 1,000 metrics in 9 s logged one by
# one, 0.13 s batched). MLflow itself is not packaged for Debian 12, so it is
# not run here. Usage: bash bench/track.sh [POINTS] [RUNS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
points=${1:-100000}
runs=${2:-10000}
build=$root/build
[ -x "$build/leap" ] || { cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build "$build" -j2 >/dev/null; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -O2 -std=gnu11 -I"$root/include" "$root/bench/track_bench.c" "$build/libleap.a" \
    -lsqlite3 -lyaml -lcyaml -lcjson -lzstd -lxxhash -lz -lm -lpthread -o "$tmp/track_bench"
echo "machine: $(uname -m), $(nproc) cores, $(sqlite3 --version 2>/dev/null | cut -d' ' -f1 || echo sqlite)"
"$tmp/track_bench" "$tmp/leap.db" "$points" 1000 "$runs" > "$tmp/leap.txt"
t() { local s e; s=$(date +%s.%N); "$@" > "$tmp/list.out"; e=$(date +%s.%N); echo "$e - $s" | bc; }
list_plain=$(t "$build/leap" runs list --store "$tmp/leap.db")
list_filter=$(t "$build/leap" runs list --store "$tmp/leap.db" --filter 'metrics.auc > 0.75 and params.l2 = 3' --sort -metrics.auc)
n_listed=$(tail -1 "$tmp/list.out")
python3 "$root/bench/track_sqlite.py" "$tmp/py.db" "$points" 1000 "$runs" > "$tmp/py.txt"
get() { awk -v k="$2" '$1 == k {print $3}' "$1"; }
printf '\n| operation | leap (C, SQLite store) | Python sqlite3 baseline | MLflow (published, issue 3010) |\n'
printf '|---|---|---|---|\n'
printf '| log %s metric points, one batched call | %.3f s | %.3f s (executemany) | 0.13 s per 1,000 batched |\n' \
    "$points" "$(get "$tmp/leap.txt" batched)" "$(get "$tmp/py.txt" batched)"
printf '| log 1,000 metric points one call each | %.3f s | %.3f s | 9 s |\n' \
    "$(get "$tmp/leap.txt" one_by_one)" "$(get "$tmp/py.txt" one_by_one)"
printf '| write %s runs (params, metrics, cost), one batch | %.3f s | | |\n' "$runs" "$(get "$tmp/leap.txt" write_runs)"
printf '| list %s runs (`leap runs list`, whole process) | %.3f s | %.3f s (query + format only) | |\n' \
    "$runs" "$list_plain" "$(get "$tmp/py.txt" list)"
printf '| list with filter + sort on metrics (%s) | %.3f s | | |\n' "$n_listed" "$list_filter"
