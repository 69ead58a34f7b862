#!/usr/bin/env bash
# `mpirun -np 2 leap ingest` splits the input files across ranks and joins the
# parts; the result holds the same rows as a 1-process ingest of the files in
# rank order (checked through identical scores), and no part files remain.
set -euo pipefail
: "${LEAP:?set LEAP to the leap binary}"
MPIEXEC=${MPIEXEC:-mpirun}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
mpi=("$MPIEXEC" --oversubscribe -np 2)
[ "$(id -u)" -eq 0 ] && mpi=("$MPIEXEC" --allow-run-as-root --oversubscribe -np 2)
fail() { echo "FAIL: $*" >&2; exit 1; }

"$LEAP" datagen --rows 30000 --seed 3 -o d.tsv >/dev/null
head -n 10000 d.tsv > a.tsv
sed -n 10001,20000p d.tsv > b.tsv
sed -n 20001,30000p d.tsv | gzip > c.tsv.gz
"${mpi[@]}" "$LEAP" ingest --format criteo a.tsv b.tsv c.tsv.gz -o m.lds > out.txt
grep -q "on 2 ranks" out.txt || fail "not ingested by 2 ranks: $(cat out.txt)"
ls m.lds.part* 2>/dev/null && fail "part files left behind"
# rank 0 took a.tsv and c.tsv.gz, rank 1 b.tsv: the joined order is a, c, b
"$LEAP" ingest --format criteo a.tsv c.tsv.gz b.tsv -o s.lds >/dev/null
"$LEAP" train --model lr --train s.lds -o m.leap --epochs 1 --set hash_bits=16 --quiet
"$LEAP" predict --model m.leap --input m.lds -o p1.tsv 2>/dev/null
"$LEAP" predict --model m.leap --input s.lds -o p2.tsv 2>/dev/null
cmp -s p1.tsv p2.tsv || fail "MPI-ingested rows differ from the 1-process ingest"
[ "$(wc -l < p1.tsv)" -eq 30001 ] || fail "expected 30000 rows"
# a bad row on one rank fails the whole run, and no output appears
printf '1\t2\n' >> b.tsv
if "${mpi[@]}" "$LEAP" ingest --format criteo a.tsv b.tsv -o bad.lds 2> err.txt; then fail "bad row accepted"; fi
grep -q "b.tsv:10001" err.txt || fail "error lacks file:line: $(cat err.txt)"
[ ! -e bad.lds ] || fail "bad.lds written"
ls bad.lds.part* 2>/dev/null && fail "part files left behind"
echo "test_mpi_ingest: ok"
