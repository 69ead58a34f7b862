#!/usr/bin/env bash
# MPI data-parallel GBDT: under `mpirun -np 2` each rank builds histograms of
# its rows and the ranks allreduce them; the 2-rank model must equal the
# 1-rank model on the same rows. The check runs inside the unit-test binary
# (test_gbdt mpi_two_ranks_equal_one), next to the leap binary.
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
echo "test_mpi_gbdt: ok"
