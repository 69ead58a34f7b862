#!/usr/bin/env bash
# End-to-end test of `leap datagen` as a user runs it: a 20k-row file and its
# truth (line counts, 40 tab-separated fields, summary lines), the same bytes
# for any --threads, and bad arguments (a one-line error, non-zero exit, no
# output files). Env: LEAP = path of the leap binary. Exit 77 = skipped.
set -u

if [ -z "${LEAP:-}" ] || [ ! -x "$LEAP" ]; then
    echo "skip: LEAP is not set to the leap binary" >&2
    exit 77
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/leap_e2e_datagen.XXXXXX")
trap 'rm -rf "$dir"' EXIT
fails=0
fail() {
    echo "FAIL: $*" >&2
    fails=$((fails + 1))
}

# ---- a normal run ------------------------------------------------------------------
if ! "$LEAP" datagen --rows 20000 --seed 42 -o "$dir/s.tsv" --threads 2 >"$dir/out" 2>"$dir/err"; then
    fail "datagen exited non-zero: $(cat "$dir/err")"
fi
[ -s "$dir/s.tsv" ] || fail "no rows file"
[ -s "$dir/s.tsv.truth" ] || fail "no truth file"
[ "$(wc -l <"$dir/s.tsv")" -eq 20000 ] || fail "rows file has $(wc -l <"$dir/s.tsv") lines"
[ "$(wc -l <"$dir/s.tsv.truth")" -eq 20000 ] || fail "truth file has $(wc -l <"$dir/s.tsv.truth") lines"
bad=$(awk -F'\t' 'NF != 40 || ($1 != "0" && $1 != "1") { n++ } END { print n + 0 }' "$dir/s.tsv")
[ "$bad" -eq 0 ] || fail "$bad rows without 40 fields or with a bad label"
bad=$(awk -F'\t' '{ for (i = 15; i <= 40; i++) if ($i != "" && (length($i) != 8 || $i ~ /[^0-9a-f]/)) n++ }
                  END { print n + 0 }' "$dir/s.tsv")
[ "$bad" -eq 0 ] || fail "$bad categorical values are not 8 lowercase hex digits"
bad=$(awk '!($1 > 0 && $1 < 1) { n++ } END { print n + 0 }' "$dir/s.tsv.truth")
[ "$bad" -eq 0 ] || fail "$bad truth values outside (0, 1)"
for key in rows ctr bayes_logloss bayes_auc bayes_ne mb_written seconds; do
    grep -Eq "^ +$key +[0-9]" "$dir/out" || fail "summary lacks '$key': $(cat "$dir/out")"
done
grep -Eq "^ +rows +20000$" "$dir/out" || fail "summary rows is not 20000"
auc=$(awk '$1 == "bayes_auc" { print $2 }' "$dir/out")
awk -v a="$auc" 'BEGIN { exit !(a > 0.7 && a < 0.9) }' || fail "bayes_auc $auc not Criteo-like"
ls "$dir" | grep -q '\.tmp\.' && fail "temporary files left behind"

# ---- same bytes for any thread count -------------------------------------------------
"$LEAP" datagen --rows 20000 --seed 42 -o "$dir/s1.tsv" --threads 1 >/dev/null 2>&1 ||
    fail "--threads 1 failed"
cmp -s "$dir/s.tsv" "$dir/s1.tsv" || fail "rows differ between --threads 1 and 2"
cmp -s "$dir/s.tsv.truth" "$dir/s1.tsv.truth" || fail "truth differs between --threads 1 and 2"
"$LEAP" datagen --rows=20000 --seed=43 --output="$dir/s2.tsv" --ctr 0.1 >/dev/null 2>&1 ||
    fail "--flag=value form failed"
cmp -s "$dir/s.tsv" "$dir/s2.tsv" && fail "another seed gave the same rows"

# ---- bad arguments: non-zero, one line on stderr, nothing written ------------------------
bad_run() {
    local what=$1
    shift
    rm -rf "$dir/bad"
    mkdir "$dir/bad"
    "$LEAP" datagen "$@" >"$dir/bad.out" 2>"$dir/bad.err"
    local rc=$?
    [ $rc -ne 0 ] || fail "$what: exit 0"
    [ "$(wc -l <"$dir/bad.err")" -eq 1 ] || fail "$what: stderr is not one line: $(cat "$dir/bad.err")"
    grep -q "^leap datagen: error: " "$dir/bad.err" || fail "$what: unexpected error: $(cat "$dir/bad.err")"
    [ -z "$(ls -A "$dir/bad")" ] || fail "$what: wrote $(ls -A "$dir/bad")"
}
bad_run "negative rows" --rows -5 -o "$dir/bad/x.tsv"
bad_run "non-numeric rows" --rows abc -o "$dir/bad/x.tsv"
bad_run "zero rows" --rows 0 -o "$dir/bad/x.tsv"
bad_run "unknown flag" --rows 10 --bogus 1 -o "$dir/bad/x.tsv"
bad_run "missing output" --rows 10
bad_run "missing value" --rows 10 -o
bad_run "bad ctr" --rows 10 --ctr 1.5 -o "$dir/bad/x.tsv"
bad_run "bad threads" --rows 10 --threads x -o "$dir/bad/x.tsv"
bad_run "unwritable folder" --rows 10 -o "$dir/bad/no/such/x.tsv"

"$LEAP" datagen --help | grep -q -- "--rows" || fail "--help does not list --rows"

# -o X.lds writes a dataset directly (and X.lds.truth); no temporary file remains
ddir=$(mktemp -d)
if "$LEAP" datagen --rows 5000 --seed 9 -o "$ddir/g.lds" >/dev/null 2>&1 &&
   [ -f "$ddir/g.lds" ] && [ "$(wc -l < "$ddir/g.lds.truth")" -eq 5000 ] &&
   [ "$(ls "$ddir" | wc -l)" -eq 2 ] &&
   "$LEAP" split "$ddir/g.lds" --fractions 0.5,0.5 -o "$ddir/g" >/dev/null 2>&1; then :
else
    echo "FAIL: datagen -o X.lds" >&2
    fails=$((fails + 1))
fi
rm -rf "$ddir"

if [ $fails -ne 0 ]; then
    echo "test_datagen.sh: $fails failure(s)" >&2
    exit 1
fi
echo "test_datagen.sh: ok"
