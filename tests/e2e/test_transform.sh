#!/usr/bin/env bash
# End-to-end transforms: `leap transform fit/show/apply`, `leap train
# --transform`, and the skew check: the same raw rows, read as a dataset (the
# training path) and as a raw log (the predict path), give bit-identical
# feature vectors and scores. Bad specs and files fail with file:line:col or
# the file's name and a non-zero exit.
set -euo pipefail
: "${LEAP:?set LEAP to the leap binary}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fail() { echo "FAIL: $*" >&2; exit 1; }

"$LEAP" datagen --rows 60000 --seed 5 -o d.tsv >/dev/null
"$LEAP" ingest --format criteo d.tsv -o d.lds --row-group-rows 8192 >/dev/null 2>&1
"$LEAP" split d.lds --fractions 0.8,0.1,0.1 -o d >/dev/null
head -n 3000 d.tsv > raw.tsv
"$LEAP" ingest --format criteo raw.tsv -o raw.lds --row-group-rows 1024 >/dev/null 2>&1

cat > spec.yaml <<'YAML'
features:
  - source: [I1, I2, I3, I4, I5, I6, I7, I8, I9, I10, I11, I12, I13]
    ops: [bucketize: {quantiles: 16}]
  - name: I5z
    source: I5
    ops: [fill_missing: mode, clip: {lo: 0, hi: 100000}, log1p, standardize]
  - source: [C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, C11, C12, C13]
    ops: [vocabulary: {min_count: 3, oov_buckets: 4}]
    embedding_dim: 8
  - source: [C14, C15, C16, C17, C18, C19, C20, C21, C22, C23, C24, C25, C26]
    ops: [fill_missing: {value: none}, hash: {buckets: 50000}]
  - {name: C1xC14, cross: [C1, C14], buckets: 100000}
  - {name: I6xC2, cross: [I6, C2], buckets: 100000}
YAML

"$LEAP" transform fit --spec spec.yaml --data d.train.lds -o t.ltf 2>fit.log || { cat fit.log; fail "fit"; }
grep -q "2 pass(es)" fit.log || fail "expected two passes (mode, then standardize): $(cat fit.log)"
"$LEAP" transform show t.ltf > show.txt
grep -q "C1xC14 *categorical" show.txt || fail "show: $(head -5 show.txt)"
grep -q "I5z *dense" show.txt || fail "show lacks the dense feature"
"$LEAP" transform show t.ltf --json > show.json
python3 -c 'import json,sys; d=json.load(open("show.json")); assert len(d["features"]) == 42, len(d["features"])' \
    || fail "show --json"
# Fitting again gives the same bytes (any thread count)
"$LEAP" transform fit --spec spec.yaml --data d.train.lds -o t1.ltf --threads 1 2>/dev/null
cmp -s t.ltf t1.ltf || fail "fit is not deterministic across thread counts"

# Skew: dataset path vs raw path, feature vectors bit for bit
"$LEAP" transform apply --transform t.ltf --data raw.lds -o fv_ds.txt
"$LEAP" transform apply --transform t.ltf --data raw.tsv --format criteo -o fv_raw.txt
[ "$(wc -l < fv_ds.txt)" -eq 3000 ] || fail "apply wrote $(wc -l < fv_ds.txt) rows"
cmp -s fv_ds.txt fv_raw.txt || fail "feature vectors differ between dataset and raw input"

# Training with the fitted transform and with the spec (fitted on the fly)
"$LEAP" train --model lr --train d.train.lds --valid d.valid.lds -o m.leap --epochs 2 \
    --transform t.ltf --quiet --threads 1 --seed 3
"$LEAP" train --model lr --train d.train.lds --valid d.valid.lds -o m2.leap --epochs 2 \
    --transform spec.yaml --quiet --threads 1 --seed 3
"$LEAP" predict --model m.leap --input d.test.lds -o s1.tsv 2>/dev/null
"$LEAP" predict --model m2.leap --input d.test.lds -o s2.tsv 2>/dev/null
cmp -s s1.tsv s2.tsv || fail "spec fitted by train differs from leap transform fit"
# The bundle carries the transform: show reads it from the model too
"$LEAP" transform show m.leap > show_m.txt
cmp -s show.txt show_m.txt || fail "bundle transform differs from t.ltf"
# Scores: dataset vs raw rows, bit for bit
"$LEAP" predict --model m.leap --input raw.lds -o p_ds.tsv 2>/dev/null
"$LEAP" predict --model m.leap --input raw.tsv -o p_raw.tsv 2>/dev/null
[ "$(wc -l < p_ds.tsv)" -eq 3001 ] || fail "predict wrote (header + rows) $(wc -l < p_ds.tsv) rows"
cmp -s p_ds.tsv p_raw.tsv || fail "scores differ between dataset and raw input"
auc=$("$LEAP" eval --model m.leap --data d.test.lds --json | sed -n 's/.*"auc": *\([0-9.]*\).*/\1/p' | head -1)
awk -v a="$auc" 'BEGIN{exit !(a > 0.72 && a < 1)}' || fail "test auc $auc with the transform"
echo "test AUC with the transform: $auc"

# Bad specs: file:line:col and exit 1, no output written
printf 'features:\n  - source: I1\n    ops: [bucketize: {quantile: 4}]\n' > bad1.yaml
if "$LEAP" transform fit --spec bad1.yaml --data d.train.lds -o bad.ltf 2>err.txt; then fail "bad spec accepted"; fi
grep -q "bad1.yaml:3:23: bucketize: unknown key 'quantile'" err.txt || fail "message: $(cat err.txt)"
[ ! -e bad.ltf ] || fail "bad.ltf written"
printf 'features:\n  - source: C1\n    ops: [log1p, hash: 9]\n' > bad2.yaml
if "$LEAP" train --model lr --train d.train.lds -o bad.leap --transform bad2.yaml 2>err.txt; then fail "bad spec trained"; fi
grep -q "bad2.yaml:3:11: feature 'C1': log1p needs a numeric column" err.txt || fail "message: $(cat err.txt)"
printf 'features:\n  - source: C99\n    ops: [hash: 9]\n' > bad3.yaml
if "$LEAP" transform fit --spec bad3.yaml --data d.train.lds -o bad.ltf 2>err.txt; then fail "unknown column accepted"; fi
grep -q "bad3.yaml:2:13: feature 'C99': column 'C99' is not in d.train.lds" err.txt || fail "message: $(cat err.txt)"
# A truncated fitted transform is refused, naming the file
head -c 3000 t.ltf > trunc.ltf
if "$LEAP" transform show trunc.ltf 2>err.txt >/dev/null; then fail "truncated .ltf accepted"; fi
grep -q "trunc.ltf: checksum mismatch" err.txt || fail "message: $(cat err.txt)"
# Input lacking a column the transform reads
cut -f1-20 raw.tsv > short.tsv
if "$LEAP" transform apply --transform t.ltf --data short.tsv --format criteo -o x.txt 2>err.txt; then
    fail "short rows accepted"
fi
[ ! -e x.txt ] || fail "x.txt written"
echo "test_transform: ok"
