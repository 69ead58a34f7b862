#!/usr/bin/env bash
# MPI data-parallel training of the embedding models: `mpirun -np 2 leap train`
# (dense gradients and the touched embedding rows allreduced every step, each
# rank on batch_size / 2 of its own rows) reaches a test AUC within 0.002 of
# the 1-process run, for DeepFM (Adam) and DCN-v2 (AdaGrad); the exchange is
# exact (2 ranks = 1 process fed the same global batches); and a resumed
# 2-rank run continues from the ranks' checkpointed positions.
set -euo pipefail
: "${LEAP:?set LEAP to the leap binary}"
MPIEXEC=${MPIEXEC:-mpirun}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
mpi=("$MPIEXEC" --oversubscribe -np 2)
[ "$(id -u)" -eq 0 ] && mpi=("$MPIEXEC" --allow-run-as-root --oversubscribe -np 2)
export OPENBLAS_NUM_THREADS=1

"$LEAP" datagen --rows 100000 --seed 11 -o d.tsv >/dev/null
"$LEAP" ingest --format criteo d.tsv -o d.lds --row-group-rows 4096 >/dev/null 2>&1
"$LEAP" split d.lds --fractions 0.8,0.1,0.1 -o d >/dev/null
auc() { "$LEAP" eval --model "$1" --data d.test.lds --json | sed -n 's/.*"auc": *\([0-9.]*\).*/\1/p' | head -1; }

common=(--train d.train.lds --valid d.valid.lds --threads 1 --seed 5 --epochs 2 --quiet
        --set hash_bits=16 --set embedding_dim=8 --set hidden=64,32 --set batch_size=256)
for cfg in "deepfm optimizer=adam" "dcn_v2 optimizer=adagrad"; do
    set -- $cfg
    model=$1 opt=$2
    lr=0.001; [ "$opt" = optimizer=adagrad ] && lr=0.05
    "$LEAP" train --model "$model" "${common[@]}" --set "$opt" --set lr=$lr -o one.leap
    "${mpi[@]}" "$LEAP" train --model "$model" "${common[@]}" --set "$opt" --set lr=$lr -o two.leap
    grep -a -q "trainer.ranks=2" two.leap || { echo "FAIL: two.leap not trained by 2 ranks"; exit 1; }
    a1=$(auc one.leap)
    a2=$(auc two.leap)
    echo "$model ($opt): 1 process test AUC $a1; mpirun -np 2: $a2"
    awk -v a="$a1" -v b="$a2" 'BEGIN{d=a-b; if (d<0) d=-d; exit !(d <= 0.002 && a > 0.75)}' \
        || { echo "FAIL: $model |AUC(1) - AUC(2)| > 0.002 (or no learning)"; exit 1; }
done

# The exchange is exact: rank 0 holds rows A, rank 1 rows B; one process reads a dataset
# interleaving them so that each of its batches IS the 2-rank global batch (no shuffle).
# The two models agree to float rounding (the only difference: the order of two sums).
head -4096 d.tsv > a.tsv
sed -n 4097,8192p d.tsv > b.tsv
awk 'FNR==NR{a[FNR]=$0; next} {b[FNR]=$0} END{for (k = 0; k < 4096; k += 256) {
        for (i = 1; i <= 256; i++) print a[k+i]; for (i = 1; i <= 256; i++) print b[k+i] } }' \
    a.tsv b.tsv > ab.tsv
"$LEAP" ingest --format criteo ab.tsv -o inter.lds --row-group-rows 8192 >/dev/null 2>&1
"$LEAP" ingest --format criteo a.tsv b.tsv -o ab.lds --row-group-rows 4096 >/dev/null 2>&1
eq=(--threads 1 --seed 3 --epochs 1 --quiet --set hash_bits=16 --set embedding_dim=8
    --set hidden=32,16 --set shuffle=false --set batch_size=512)
"$LEAP" train --model deepfm --train inter.lds -o eq1.leap "${eq[@]}"
"${mpi[@]}" "$LEAP" train --model deepfm --train ab.lds -o eq2.leap "${eq[@]}"
"$LEAP" predict --model eq1.leap --input a.tsv -o eq1.txt 2>/dev/null
"$LEAP" predict --model eq2.leap --input a.tsv -o eq2.txt 2>/dev/null
paste eq1.txt eq2.txt | awk 'NR > 1 {d = $2 - $4; if (d < 0) d = -d; if (d > m) m = d}
    END {print "2 ranks vs the same global batches in 1 process: max |score diff| " m;
         exit !(m < 1e-5)}' || { echo "FAIL: the 2-rank step is not the 1-process step"; exit 1; }

# 2 ranks killed after 40 steps (checkpoints every 15), resumed: the same model
# as the uninterrupted 2-rank run (every rank restarts at its own position)
"${mpi[@]}" "$LEAP" train --model deepfm "${common[@]}" -o ref.leap
"${mpi[@]}" "$LEAP" train --model deepfm "${common[@]}" -o k.leap --set checkpoint=ck \
    --set checkpoint_every=15 --set halt_after=40 2>/dev/null && { echo "FAIL: not halted"; exit 1; }
[ -s ck ] || { echo "FAIL: no checkpoint written"; exit 1; }
"${mpi[@]}" "$LEAP" train --model deepfm "${common[@]}" -o r.leap --set checkpoint=ck \
    --set checkpoint_every=15 --set resume=true
"$LEAP" predict --model ref.leap --input d.test.lds -o ref.txt
"$LEAP" predict --model r.leap --input d.test.lds -o r.txt
cmp -s ref.txt r.txt || { echo "FAIL: resumed 2-rank run differs from the uninterrupted one"; exit 1; }
echo "test_mpi_deep: ok"
