#!/usr/bin/env bash
# MPI data-parallel training: `mpirun -np 2 leap train` reaches a test AUC
# within 0.002 of the 1-process run on the same generated data.
set -euo pipefail
: "${LEAP:?set LEAP to the leap binary}"
MPIEXEC=${MPIEXEC:-mpirun}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
mpi=("$MPIEXEC" --oversubscribe -np 2)
[ "$(id -u)" -eq 0 ] && mpi=("$MPIEXEC" --allow-run-as-root --oversubscribe -np 2)
export OPENBLAS_NUM_THREADS=1

"$LEAP" datagen --rows 300000 --seed 11 -o d.tsv >/dev/null
"$LEAP" ingest --format criteo d.tsv -o d.lds --row-group-rows 16384 >/dev/null 2>&1
"$LEAP" split d.lds --fractions 0.8,0.1,0.1 -o d >/dev/null

"$LEAP" train --model lr --train d.train.lds --valid d.valid.lds -o one.leap --threads 1 --seed 5 \
    --epochs 3 --set hash_bits=20 --quiet
"${mpi[@]}" "$LEAP" train --model lr --train d.train.lds --valid d.valid.lds -o two.leap \
    --threads 1 --seed 5 --epochs 3 --set hash_bits=20 --quiet
grep -a -q "trainer.ranks=2" two.leap || { echo "FAIL: two.leap not trained by 2 ranks"; exit 1; }

auc() { "$LEAP" eval --model "$1" --data d.test.lds --json | sed -n 's/.*"auc": *\([0-9.]*\).*/\1/p' | head -1; }
a1=$(auc one.leap)
a2=$(auc two.leap)
echo "1 process: test AUC $a1; mpirun -np 2: test AUC $a2"
awk -v a="$a1" -v b="$a2" 'BEGIN{d=a-b; if (d<0) d=-d; exit !(d <= 0.002)}' \
    || { echo "FAIL: |AUC(1) - AUC(2)| > 0.002"; exit 1; }
# L-BFGS allreduces the full gradient: 2 ranks solve the same problem as 1
"$LEAP" train --model lr --train d.train.lds -o lb1.leap --threads 1 --set optimizer=lbfgs \
    --set hash_bits=18 --set max_iter=15 --quiet
"${mpi[@]}" "$LEAP" train --model lr --train d.train.lds -o lb2.leap --threads 1 \
    --set optimizer=lbfgs --set hash_bits=18 --set max_iter=15 --quiet
b1=$(auc lb1.leap)
b2=$(auc lb2.leap)
echo "L-BFGS 1 process: test AUC $b1; mpirun -np 2: test AUC $b2"
awk -v a="$b1" -v b="$b2" 'BEGIN{d=a-b; if (d<0) d=-d; exit !(d <= 0.0002)}' \
    || { echo "FAIL: L-BFGS |AUC(1) - AUC(2)| > 0.0002"; exit 1; }
echo "test_mpi_train: ok"
