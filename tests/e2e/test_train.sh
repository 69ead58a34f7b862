#!/usr/bin/env bash
# End-to-end: datagen -> ingest -> split -> train -> eval -> predict -> inspect
# through the CLI, including determinism, raw-vs-dataset score identity and
# bad input (unknown/out-of-range options, truncated or corrupt bundles,
# malformed raw rows): one-line errors, non-zero exits, no half-written files.
set -euo pipefail
: "${LEAP:?set LEAP to the leap binary}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fail() { echo "FAIL: $*" >&2; exit 1; }

"$LEAP" datagen --rows 60000 --seed 7 -o d.tsv >/dev/null
"$LEAP" ingest --format criteo d.tsv -o d.lds --row-group-rows 8192 >/dev/null 2>&1
"$LEAP" split d.lds --by hash --fractions 0.8,0.1,0.1 -o d >/dev/null
for s in train valid test; do [ -f d.$s.lds ] || fail "missing d.$s.lds"; done

"$LEAP" train --model lr --train d.train.lds --valid d.valid.lds -o m.leap \
    --threads 1 --seed 3 --epochs 3 --set hash_bits=18 --quiet
"$LEAP" train --model lr --train d.train.lds --valid d.valid.lds -o m2.leap \
    --threads 1 --seed 3 --epochs 3 --set hash_bits=18 --quiet

# --threads 1 --seed S is deterministic: identical scores
"$LEAP" predict --model m.leap --input d.test.lds -o s1.tsv 2>/dev/null
"$LEAP" predict --model m2.leap --input d.test.lds -o s2.tsv 2>/dev/null
cmp -s s1.tsv s2.tsv || fail "two runs with --threads 1 --seed 3 differ"

# eval: JSON has sane metrics; the model learned something
"$LEAP" eval --model m.leap --data d.test.lds --json > e.json
auc=$(sed -n 's/.*"auc": *\([0-9.]*\).*/\1/p' e.json | head -1)
[ -n "$auc" ] || fail "no auc in $(cat e.json)"
awk -v a="$auc" 'BEGIN{exit !(a > 0.70 && a < 1)}' || fail "test auc $auc not in (0.70, 1)"
"$LEAP" eval --model m.leap --data d.test.lds --slice-by C9 > table.txt
grep -q "auc" table.txt || fail "no table"
grep -q "slices by C9" table.txt || fail "no slices"

# early stopping keeps the best epoch: the bundle's recorded validation
# logloss is what eval measures on the validation set
"$LEAP" train --model lr --train d.train.lds --valid d.valid.lds -o es.leap --threads 1 \
    --epochs 8 --set hash_bits=18 --quiet
"$LEAP" inspect es.leap > es.txt
run=$(awk '$1 == "trainer.epochs_run" {print $2}' es.txt)
best=$(awk '$1 == "trainer.best_epoch" {print $2}' es.txt)
[ "$run" -lt 8 ] || fail "no early stop in 8 epochs (ran $run)"
[ "$best" -lt "$run" ] || fail "best epoch $best is not before the last $run"
rec=$(awk '$1 == "metrics.valid_logloss" {print $2}' es.txt)
got=$("$LEAP" eval --model es.leap --data d.valid.lds --json | sed -n 's/.*"logloss": *\([0-9.]*\).*/\1/p' | head -1)
awk -v a="$rec" -v b="$got" 'BEGIN{d=a-b; if (d<0) d=-d; exit !(d < 1e-6)}' \
    || fail "saved model is not the best epoch: recorded $rec, eval $got"

# eval reads a raw log as well as its dataset, with identical metrics
"$LEAP" eval --model m.leap --data d.tsv --json | sed 's/"data": "[^"]*"//' > er.json
"$LEAP" eval --model m.leap --data d.lds --json | sed 's/"data": "[^"]*"//' > ed.json
cmp -s er.json ed.json || fail "eval on the raw log differs from eval on its dataset"

# inspect
"$LEAP" inspect m.leap > insp.txt
grep -q "^model  *lr" insp.txt || fail "inspect: no model line"
grep -q "opt.alpha" insp.txt || fail "inspect: no options"
grep -q "train.fingerprint" insp.txt || fail "inspect: no fingerprint"

# a raw row scores exactly as its ingested twin (same reader, same featurizer)
"$LEAP" predict --model m.leap --input d.tsv -o raw.tsv 2>/dev/null
"$LEAP" predict --model m.leap --input d.lds -o ds.tsv 2>/dev/null
cmp -s raw.tsv ds.tsv || fail "raw and dataset scores differ"
[ "$(wc -l < raw.tsv)" -eq 60001 ] || fail "expected 60000 scores + header"
head -1 raw.tsv | grep -q "^label	score$" || fail "bad header: $(head -1 raw.tsv)"

# training straight from the raw file (parsed into memory) equals training on
# its ingested dataset (same row groups), and -o - writes to standard output
"$LEAP" ingest --format criteo d.tsv -o d64k.lds >/dev/null 2>&1
"$LEAP" train --model lr --train d.tsv -o fromraw.leap --threads 1 --seed 3 --epochs 2 --set hash_bits=18 --quiet
"$LEAP" train --model lr --train d64k.lds -o fromds.leap --threads 1 --seed 3 --epochs 2 --set hash_bits=18 --quiet
"$LEAP" predict --model fromraw.leap --input d.test.lds -o - 2>/dev/null > r1.tsv
"$LEAP" predict --model fromds.leap --input d.test.lds -o - 2>/dev/null > r2.tsv
cmp -s r1.tsv r2.tsv || fail "training from the raw file differs from training on its dataset"
[ "$(wc -l < r1.tsv)" -eq "$(wc -l < s1.tsv)" ] || fail "-o - wrote a different number of lines"
printf '1\t1\n' > badtrain.tsv
expect_fail0() { if "$@" 2> err.txt; then fail "expected failure: $*"; fi; grep -q "badtrain.tsv:1" err.txt || fail "no file:line in $(cat err.txt)"; }
expect_fail0 "$LEAP" train --model lr --train badtrain.tsv -o bt.leap
[ ! -e bt.leap ] || fail "bt.leap written by a failed train"

# negative downsampling: the train split keeps 20% of negatives (weight 5);
# the bundle stores the rate and scores come back calibrated to the true rate
"$LEAP" split d.lds --by hash --fractions 0.8,0.1,0.1 --neg-rate 0.2 -o ns >/dev/null
"$LEAP" train --model lr --train ns.train.lds -o ns.leap --epochs 2 --set hash_bits=18 --quiet
"$LEAP" inspect ns.leap | grep -q "^neg_sample_rate *0.2" || fail "bundle lacks neg_sample_rate 0.2"
calib() { "$LEAP" eval --model ns.leap --data "$1" --json | sed -n 's/.*"calibration": *\([0-9.]*\).*/\1/p' | head -1; }
for part in ns.test.lds ns.valid.lds; do
    c=$(calib $part)
    awk -v c="$c" 'BEGIN{exit !(c > 0.93 && c < 1.07)}' || fail "calibration $c on $part not within 7% of 1"
done

# --key adds an input column in front; a dictionary (ingest --dict) gives raw text
"$LEAP" ingest --format criteo d.tsv -o ddict.lds --dict >/dev/null 2>&1
"$LEAP" predict --model m.leap --input ddict.lds --key C9 -o k.tsv 2>/dev/null
head -1 k.tsv | grep -q "^C9	label	score$" || fail "bad --key header: $(head -1 k.tsv)"
c9=$(sed -n 1p d.tsv | cut -f 23)
k9=$(sed -n 2p k.tsv | cut -f 1)
[ "$c9" = "$k9" ] || fail "--key C9 gave '$k9', the raw row has '$c9'"
cut -f 2- k.tsv | cmp -s - ds.tsv || fail "--key changed the scores"
"$LEAP" predict --model m.leap --input d.tsv --key I1 -o ki.tsv 2>/dev/null
[ "$(sed -n 2p ki.tsv | cut -f 1)" = "$(sed -n 1p d.tsv | cut -f 2)" ] || fail "--key I1 on raw input"

# AdaGrad trains too
"$LEAP" train --model lr --train d.train.lds -o ada.leap --set optimizer=adagrad --set hash_bits=18 --quiet
"$LEAP" eval --model ada.leap --data d.test.lds --json > a.json
auc=$(sed -n 's/.*"auc": *\([0-9.]*\).*/\1/p' a.json | head -1)
awk -v a="$auc" 'BEGIN{exit !(a > 0.70)}' || fail "adagrad auc $auc"

# --help lists options with defaults and ranges
"$LEAP" train --model lr --help > help.txt
for k in alpha beta l1 l2 lr hash_bits epochs; do grep -q "^  $k " help.txt || fail "help lacks $k"; done

# ---- bad input ----
cp m.leap keep.leap
expect_fail() { # expect_fail PATTERN cmd...
    local pat=$1; shift
    if "$@" > out.txt 2> err.txt; then fail "expected failure: $*"; fi
    [ "$(wc -l < err.txt)" -ge 1 ] || fail "no error message: $*"
    grep -q -- "$pat" err.txt || fail "error for '$*' lacks '$pat': $(cat err.txt)"
}
expect_fail "unknown option 'alpah'" "$LEAP" train --model lr --train d.train.lds -o m.leap --set alpah=1
cmp -s m.leap keep.leap || fail "failed train touched the existing bundle"
expect_fail "above the maximum" "$LEAP" train --model lr --train d.train.lds -o m.leap --set hash_bits=99
expect_fail "below the minimum" "$LEAP" train --model lr --train d.train.lds -o m.leap --set alpha=-1
expect_fail "unknown model" "$LEAP" train --model nope --train d.train.lds -o x.leap
expect_fail "d.nope.lds" "$LEAP" train --model lr --train d.nope.lds -o x.leap
[ ! -e x.leap ] || fail "x.leap written by a failed run"
cmp -s m.leap keep.leap || fail "failed train touched the existing bundle"
head -c 2000 m.leap > trunc.leap
expect_fail "trunc.leap: truncated" "$LEAP" eval --model trunc.leap --data d.test.lds
python3 - <<'PY'
b = bytearray(open("m.leap", "rb").read()); b[len(b) // 2] ^= 0x40
open("flip.leap", "wb").write(b)
b = bytearray(open("m.leap", "rb").read()); b[8] = 7
open("future.leap", "wb").write(b)
PY
expect_fail "checksum mismatch" "$LEAP" predict --model flip.leap --input d.test.lds -o sc.tsv
expect_fail "version 7 is newer" "$LEAP" inspect future.leap
[ ! -e sc.tsv ] || fail "scores written by a failed predict"
printf '1\t1\t2\n' > badrow.tsv
expect_fail "badrow.tsv:1" "$LEAP" predict --model m.leap --input badrow.tsv -o sc.tsv
[ ! -e sc.tsv ] || fail "scores written by a failed predict"
expect_fail "no column 'nope'" "$LEAP" eval --model m.leap --data d.test.lds --slice-by nope
ls ./*.tmp.* 2>/dev/null && fail "temporary files left behind"
echo "test_train: ok"
