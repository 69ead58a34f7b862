#!/usr/bin/env bash
# MPI data-parallel GBDT: under `mpirun -np 2` each rank builds histograms of
# its rows and the ranks allreduce them; the 2-rank model must equal the
# 1-rank model on the same rows: inside the unit-test binary next to leap
# (test_gbdt mpi_two_ranks_equal_one: payloads byte-identical), then through
# the CLI (one fitted transform; identical scores).
set -euo pipefail
: "${LEAP:?set LEAP to the leap binary}"
MPIEXEC=${MPIEXEC:-mpirun}
bin=$(dirname "$LEAP")/test_gbdt
[ -x "$bin" ] || { echo "FAIL: $bin not built"; exit 1; }
mpi=("$MPIEXEC" --oversubscribe -np 2)
[ "$(id -u)" -eq 0 ] && mpi=("$MPIEXEC" --allow-run-as-root --oversubscribe -np 2)
out=$("${mpi[@]}" "$bin" mpi_two_ranks_equal_one 2>&1) || { echo "$out"; echo "FAIL: 2-rank gbdt"; exit 1; }
echo "$out"
grep -q "2 ranks: the model equals the 1-rank model byte for byte" <<<"$out" \
    || { echo "FAIL: the test did not run on 2 ranks"; exit 1; }
[ "$(grep -c '^1 passed, 0 failed' <<<"$out")" -eq 2 ] || { echo "FAIL: a rank failed"; exit 1; }

# the same through the CLI: one fitted transform, `mpirun -np 2 leap train`
# against one process; the models must score the test rows identically
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
"$LEAP" datagen --rows 60000 --seed 9 -o d.tsv >/dev/null
"$LEAP" ingest --format criteo d.tsv -o d.lds --row-group-rows 4096 >/dev/null 2>&1
"$LEAP" split d.lds --by hash --fractions 0.9,0.1 -o d >/dev/null
{
    echo "features:"
    for i in $(seq 1 13); do printf '  - source: I%d\n    ops: [bucketize: {quantiles: 32}]\n' "$i"; done
    for i in $(seq 1 26); do printf '  - source: C%d\n    ops: [vocabulary: {top_k: 100}]\n' "$i"; done
} > spec.yaml
"$LEAP" transform fit --spec spec.yaml --data d.train.lds -o t.ltf >/dev/null 2>&1
"$LEAP" train --model gbdt --train d.train.lds --transform t.ltf -o one.leap --threads 1 \
    --set trees=30 --quiet
"${mpi[@]}" "$LEAP" train --model gbdt --train d.train.lds --transform t.ltf -o two.leap \
    --threads 1 --set trees=30 --quiet
grep -a -q "trainer.ranks=2" two.leap || { echo "FAIL: two.leap not trained by 2 ranks"; exit 1; }
"$LEAP" predict --model one.leap --input d.test.lds -o p1.tsv 2>/dev/null
"$LEAP" predict --model two.leap --input d.test.lds -o p2.tsv 2>/dev/null
cmp -s p1.tsv p2.tsv || { echo "FAIL: 2-rank CLI model scores differ from 1 rank"; exit 1; }
echo "CLI: mpirun -np 2 leap train --model gbdt scores the test rows exactly as 1 process"
echo "test_mpi_gbdt: ok"
