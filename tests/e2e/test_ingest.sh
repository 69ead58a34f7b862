#!/usr/bin/env bash
# e2e test of `leap ingest` (criteo, csv, libsvm) driven as a user would: good
# inputs, a malformed row (exit != 0, one-line FILE:LINE error, no output left,
# an existing output untouched), an unknown schema key (line:col), --bad-rows=skip,
# and the real Criteo samples in $LEAP_SHARED_DATA/criteo when present.
# Env: LEAP = the leap binary; LEAP_SHARED_DATA = folder of real sample data (optional).
set -u
LEAP=${LEAP:?set LEAP to the leap binary}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok   $*"; }

# ---- criteo ------------------------------------------------------------------
row() { # label i3 n_fields
    local s=$1 f
    for ((f = 1; f < $3; f++)); do
        if ((f == 3)); then s+=$'\t'$2; elif ((f < 14)); then s+=$'\t'$f; else s+=$'\t'c$f; fi
    done
    printf '%s\n' "$s"
}
{ for i in $(seq 1 50); do row $((i % 2)) -$i 40; done; } > "$T/good.tsv"
if "$LEAP" ingest --format criteo "$T/good.tsv" -o "$T/good.lds" --threads 2 > "$T/out" 2>&1 &&
    grep -q "ingested 50 rows" "$T/out" && [ -s "$T/good.lds" ]; then
    ok "criteo ingest"
else
    fail "criteo ingest: $(cat "$T/out")"
fi
# gzip and zstd content under the plain name: detected from the magic bytes,
# and the dataset is byte-identical (the metadata records the base name only)
mkdir -p "$T/gz" "$T/zst"
gzip -c "$T/good.tsv" > "$T/gz/good.tsv"
zstd -q -c "$T/good.tsv" > "$T/zst/good.tsv" 2> /dev/null || cp "$T/good.tsv" "$T/zst/good.tsv"
if "$LEAP" ingest --format criteo "$T/gz/good.tsv" -o "$T/gz.lds" > "$T/out" 2>&1 &&
    cmp -s "$T/good.lds" "$T/gz.lds" &&
    "$LEAP" ingest --format criteo "$T/zst/good.tsv" -o "$T/zst.lds" >> "$T/out" 2>&1 &&
    cmp -s "$T/good.lds" "$T/zst.lds"; then
    ok "gzip and zstd input give the same dataset"
else
    fail "gzip input: $(cat "$T/out")"
fi
# globs expanded by leap itself when the shell did not
cp "$T/good.tsv" "$T/part1.tsv"; cp "$T/good.tsv" "$T/part2.tsv"
if "$LEAP" ingest --format criteo "$T/part*.tsv" -o "$T/parts.lds" > "$T/out" 2>&1 &&
    grep -q "ingested 100 rows" "$T/out"; then
    ok "glob expanded by leap"
else
    fail "glob: $(cat "$T/out")"
fi

# malformed row: line 4 has 12 fields
{ row 1 1 40; row 0 2 40; row 1 3 40; row 1 4 12; row 0 5 40; } > "$T/bad.tsv"
"$LEAP" ingest --format criteo "$T/bad.tsv" -o "$T/bad.lds" > "$T/out" 2> "$T/err"
rc=$?
if [ $rc -ne 0 ] && [ "$(wc -l < "$T/err")" -eq 1 ] &&
    grep -q "bad.tsv:4: expected 40 tab-separated fields, found 12" "$T/err" &&
    [ ! -e "$T/bad.lds" ] && [ -z "$(ls "$T" | grep 'bad.lds.tmp')" ]; then
    ok "malformed row: exit $rc, $(cat "$T/err")"
else
    fail "malformed row: rc=$rc err=$(cat "$T/err")"
fi
# an existing output is left untouched
cp "$T/good.lds" "$T/keep.lds"; before=$(cksum < "$T/keep.lds")
if ! "$LEAP" ingest --format criteo "$T/bad.tsv" -o "$T/keep.lds" > /dev/null 2>&1 &&
    [ "$(cksum < "$T/keep.lds")" = "$before" ]; then
    ok "failed ingest leaves the old output untouched"
else
    fail "old output changed"
fi
# non-integer in I3
{ row 1 1 40; row 1 abc 40; } > "$T/bad2.tsv"
if ! "$LEAP" ingest --format criteo "$T/bad2.tsv" -o "$T/bad2.lds" 2> "$T/err" > /dev/null &&
    grep -q "bad2.tsv:2: column I3: 'abc' is not an integer" "$T/err"; then
    ok "non-integer: $(cat "$T/err")"
else
    fail "non-integer: $(cat "$T/err")"
fi
# skip mode
if "$LEAP" ingest --format criteo --bad-rows=skip "$T/bad.tsv" -o "$T/skip.lds" > "$T/out" 2> "$T/err" &&
    grep -q "ingested 4 rows (1 bad rows skipped)" "$T/out" && grep -q "first at lines 4" "$T/err"; then
    ok "--bad-rows=skip"
else
    fail "skip: $(cat "$T/out" "$T/err")"
fi

# ---- csv ---------------------------------------------------------------------
cat > "$T/schema.yaml" << 'YAML'
delimiter: ","
header: true
columns:
  - {name: click, type: label}
  - {name: price, type: numeric}
  - {name: site, type: categorical}
  - {name: tags, type: multi_categorical, separator: "|", weighted: true}
  - {name: ts, type: timestamp, format: "%Y-%m-%d %H:%M:%S"}
  - {name: note, type: ignore}
YAML
printf 'click,price,site,tags,ts,note\n1,2.5,"a,b",x:1|y:2,2024-01-02 03:04:05,hi\n0,,s,,,\n' > "$T/logs.csv"
gzip -c "$T/logs.csv" > "$T/logs2.csv.gz"
if "$LEAP" ingest --format csv --schema "$T/schema.yaml" "$T/logs.csv" "$T/logs2.csv.gz" -o "$T/logs.lds" > "$T/out" 2>&1 &&
    grep -q "ingested 4 rows" "$T/out"; then
    ok "csv ingest (plain + gz)"
else
    fail "csv ingest: $(cat "$T/out")"
fi
printf 'click,price,site,tags,ts,note\n1,x1,s,,,\n' > "$T/badnum.csv"
if ! "$LEAP" ingest --format csv --schema "$T/schema.yaml" "$T/badnum.csv" -o "$T/x.lds" 2> "$T/err" > /dev/null &&
    grep -q "badnum.csv:2: column price: 'x1' is not a number" "$T/err"; then
    ok "csv bad number: $(cat "$T/err")"
else
    fail "csv bad number: $(cat "$T/err")"
fi
printf 'header: true\ncolumns:\n  - name: click\n    type: label\n  - name: price\n    typ: numeric\n' > "$T/typo.yaml"
if ! "$LEAP" ingest --format csv --schema "$T/typo.yaml" "$T/logs.csv" -o "$T/x.lds" 2> "$T/err" > /dev/null &&
    grep -q "typo.yaml:6:5: unknown key 'typ'" "$T/err"; then
    ok "unknown schema key: $(cat "$T/err")"
else
    fail "unknown schema key: $(cat "$T/err")"
fi

# ---- libsvm ------------------------------------------------------------------
printf '+1 1:0.5 7:2\n-1 3:1\n0 2:1 qid:4\n' > "$T/data.svm"
if "$LEAP" ingest --format libsvm "$T/data.svm" -o "$T/svm.lds" > "$T/out" 2>&1 &&
    grep -q "ingested 3 rows" "$T/out"; then
    ok "libsvm ingest"
else
    fail "libsvm ingest: $(cat "$T/out")"
fi

# ---- usage -------------------------------------------------------------------
if "$LEAP" ingest --help | grep -q -- "--bad-rows"; then ok "--help"; else fail "--help"; fi
"$LEAP" ingest --format nope x -o y > /dev/null 2>&1
[ $? -eq 2 ] && ok "bad --format is a usage error" || fail "bad --format exit code"

# ---- real Criteo samples -----------------------------------------------------
D=${LEAP_SHARED_DATA:-}
if [ -n "$D" ] && ls "$D"/criteo/*.tsv.gz > /dev/null 2>&1; then
    for f in "$D"/criteo/*.tsv.gz; do
        want=$(gzip -dc "$f" | wc -l)
        if "$LEAP" ingest --format criteo "$f" -o "$T/real.lds" --threads 2 > "$T/out" 2>&1 &&
            grep -q "ingested $want rows (0 bad rows" "$T/out"; then
            ok "real sample $(basename "$f"): $want rows"
        else
            fail "real sample $(basename "$f"): $(cat "$T/out")"
        fi
    done
else
    echo "skip real Criteo samples: LEAP_SHARED_DATA/criteo not found"
fi

[ $fails -eq 0 ] && echo "all ingest e2e checks passed" || echo "$fails failed"
[ $fails -eq 0 ]
