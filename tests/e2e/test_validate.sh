#!/usr/bin/env bash
# e2e test of `leap schema infer` and `leap validate`: a generated Criteo log
# split 50/50 — the schema inferred on one half validates the other (exit 0);
# a log with a different seed and CTR drifts, a blanked column breaks its
# missing-rate bound and a shifted numeric column leaves its range (exit 1,
# with the expected lines); a bad schema key is exit 2 with FILE:LINE:COL; a
# failed infer leaves no output file. Skipped (77) when datagen/ingest/split
# are not built.
set -u
: "${LEAP:?set LEAP to the leap binary}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ingest() { "$LEAP" ingest --format criteo "$1" -o "$2" --dict > /dev/null 2>&1; }

"$LEAP" datagen --rows 20000 --seed 1 -o "$work/a.tsv" > /dev/null 2>&1 || { echo "skip: datagen" >&2; exit 77; }
ingest "$work/a.tsv" "$work/a.lds" || { echo "skip: ingest" >&2; exit 77; }
"$LEAP" split "$work/a.lds" -o "$work/s" --fractions 0.5,0.5 > /dev/null 2>&1 || { echo "skip: split" >&2; exit 77; }

"$LEAP" validate --help | grep -q "serving skew" || fail "help does not mention training/serving skew"
"$LEAP" schema infer "$work/s.train.lds" -o "$work/schema.yaml" || fail "schema infer"
grep -q "^version: 1" "$work/schema.yaml" || fail "no version"
grep -q "domain: \[" "$work/schema.yaml" || fail "no domain written"
grep -q "max_new_rate:" "$work/schema.yaml" || fail "no max_new_rate written"

# clean: the other half, with and without a baseline
"$LEAP" validate "$work/s.test.lds" --schema "$work/schema.yaml" > "$work/out" || fail "clean half: $(cat "$work/out")"
"$LEAP" validate "$work/s.test.lds" --schema "$work/schema.yaml" --baseline "$work/s.train.lds" --threads 3 > "$work/out" \
    || fail "clean half vs baseline: $(cat "$work/out")"

# drift: another seed and CTR
"$LEAP" datagen --rows 20000 --seed 7 --ctr 0.4 -o "$work/b.tsv" > /dev/null 2>&1 || fail "datagen b"
ingest "$work/b.tsv" "$work/b.lds" || fail "ingest b"
"$LEAP" validate "$work/b.lds" --schema "$work/schema.yaml" --baseline "$work/s.train.lds" > "$work/out"
[ $? -eq 1 ] || fail "drifted data: exit not 1"
grep -qE "^C9 +drift_linf " "$work/out" || fail "no C9 drift"
"$LEAP" validate "$work/b.lds" --schema "$work/schema.yaml" --baseline "$work/s.train.lds" --json > "$work/j"
python3 -c 'import json,sys; d=json.load(sys.stdin); assert any(a["kind"]=="drift_linf" for a in d["anomalies"])' < "$work/j" \
    || fail "--json"

# blank I3 (column 4) and shift I2 (column 3) by 1e6
awk -F'\t' 'BEGIN{OFS="\t"} {$4=""; if ($3!="") $3=$3+1000000; print}' "$work/a.tsv" > "$work/m.tsv"
ingest "$work/m.tsv" "$work/m.lds" || fail "ingest m"
"$LEAP" validate "$work/m.lds" --schema "$work/schema.yaml" > "$work/out"
[ $? -eq 1 ] || fail "modified data: exit not 1"
grep -qE "^I3 +missing_rate +1 " "$work/out" || fail "no I3 missing_rate: $(cat "$work/out")"
grep -qE "^I2 +above_max +max .* \(20000 values above\)" "$work/out" || fail "no I2 above_max: $(cat "$work/out")"
[ "$(grep -cE '^(I2|I3) ' "$work/out")" -eq 2 ] || fail "unexpected extra lines: $(cat "$work/out")"

# bad schema key: exit 2, one line with line:col
sed 's/^    required: true$/    requierd: true/;' "$work/schema.yaml" > "$work/bad.yaml"
"$LEAP" validate "$work/s.test.lds" --schema "$work/bad.yaml" > /dev/null 2> "$work/err"
[ $? -eq 2 ] || fail "bad schema: exit not 2"
[ "$(wc -l < "$work/err")" -eq 1 ] || fail "bad schema: not one line: $(cat "$work/err")"
grep -qE "bad.yaml:[0-9]+:5: unknown key 'requierd'" "$work/err" || fail "no line:col: $(cat "$work/err")"
"$LEAP" validate "$work/nope.lds" --schema "$work/schema.yaml" > /dev/null 2>&1
[ $? -eq 2 ] || fail "missing dataset: exit not 2"
"$LEAP" validate "$work/s.test.lds" > /dev/null 2>&1
[ $? -eq 2 ] || fail "no --schema: exit not 2"

# failed infer leaves no output
"$LEAP" schema infer "$work/nope.lds" -o "$work/x.yaml" 2> /dev/null && fail "infer of a missing dataset succeeded"
ls "$work" | grep -q '^x.yaml' && fail "output left behind"
echo "ok"
