#!/usr/bin/env bash
# Benchmark: `leap stats` (ingest + stats, and stats alone on the dataset) vs
# the pandas profile a user would write (bench/stats_pandas.py), on the same
# generated rows in the same run. Usage: bench/stats.sh [ROWS] (default 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup --bench
[ -x build/leap ] || { cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build build -j; }
rows=${1:-1000000}
w=bench-out/stats
mkdir -p "$w"
build/leap datagen --rows "$rows" --seed 42 -o "$w/s.tsv" >/dev/null
now() { date +%s.%N; }
t0=$(now); build/leap ingest --format criteo "$w/s.tsv" -o "$w/s.lds" >/dev/null
t1=$(now); build/leap stats "$w/s.lds" --label-by C9 > "$w/stats.txt"
t2=$(now)
ing=$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')
st=$(awk -v a="$t1" -v b="$t2" 'BEGIN{print b-a}')
echo "leap: ingest ${ing} s, stats ${st} s, total $(awk -v a="$ing" -v b="$st" 'BEGIN{print a+b}') s ($rows rows, $(nproc) cores)"
out=$(OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/stats_pandas.py "$w/s.tsv")
echo "$out"
pt=$(echo "$out" | sed -n 's/.*total \([0-9.]*\) s.*/\1/p')
awk -v p="$pt" -v a="$ing" -v b="$st" 'BEGIN{printf "ratio: leap raw->stats %.1fx faster than pandas; stats on a dataset %.1fx\n", p/(a+b), p/b}'
