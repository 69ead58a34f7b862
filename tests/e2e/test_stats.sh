#!/usr/bin/env bash
# e2e test of `leap stats`: generates and ingests a Criteo log (with
# dictionaries), then drives the CLI as a user would — the table lists every
# column, --json parses and holds every column, --html writes a page with
# inline SVG, --label-by C9 reports per-value label rates, --threads does not
# change the exact figures — and bad input: an unknown --label-by column, a bad
# flag, a missing dataset and a corrupt one, each a non-zero exit with one line
# on stderr. Skipped (77) when datagen or ingest is not built yet.
set -u
: "${LEAP:?set LEAP to the leap binary}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

if ! out=$("$LEAP" datagen --rows 20000 -o "$work/d.tsv" 2>&1); then
    echo "skip: leap datagen unavailable: $out" >&2
    exit 77
fi
if ! out=$("$LEAP" ingest --format criteo "$work/d.tsv" -o "$work/d.lds" --dict 2>&1); then
    echo "$out" | grep -q "not built yet" && { echo "skip: ingest not built" >&2; exit 77; }
    fail "ingest: $out"
fi
d="$work/d.lds"

# ---- help ----------------------------------------------------------------------
"$LEAP" stats --help > "$work/help" || fail "--help exited non-zero"
grep -q "usage: leap stats" "$work/help" || fail "--help shows no usage"

# ---- table: one block per column ---------------------------------------------------
"$LEAP" stats "$d" > "$work/t" 2> "$work/t.err" || fail "stats: $(cat "$work/t.err")"
for col in label I1 I13 C1 C9 C26; do
    grep -q "^== $col (" "$work/t" || fail "table has no block for $col"
done
[ "$(grep -c '^== ' "$work/t")" -eq 40 ] || fail "table does not have 40 column blocks"
grep -q "rank error <=" "$work/t" || fail "table does not state the quantile rank error"
grep -q "^label rate " "$work/t" || fail "table has no overall label rate"

# ---- JSON ------------------------------------------------------------------------
"$LEAP" stats "$d" --json > "$work/j" || fail "--json exited non-zero"
python3 -c 'import json,sys; json.load(sys.stdin)' < "$work/j" || fail "--json is not JSON"
python3 - "$work/j" <<'EOF' || fail "JSON content"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["rows"] == 20000, s["rows"]
cols = {c["name"]: c for c in s["columns"]}
assert len(cols) == 40 and "C9" in cols and "I1" in cols
for c in s["columns"]:
    assert c["present"] + c["missing"] == 20000, c["name"]
i1 = cols["I1"]
assert i1["min"] <= i1["quantiles"]["0.5"] <= i1["max"]
assert sum(i1["histogram"]["counts"]) + i1["histogram"]["underflow"] + i1["histogram"]["overflow"] == i1["present"]
assert 0 < s["label"]["rate"] < 1
assert len(cols["C9"]["top"]) <= 10 and cols["C9"]["top"][0]["count"] > 0
EOF

# ---- HTML (atomic write) ------------------------------------------------------------
"$LEAP" stats "$d" --html "$work/r.html" > /dev/null || fail "--html exited non-zero"
[ -s "$work/r.html" ] || fail "--html wrote nothing"
grep -q "<svg" "$work/r.html" || fail "HTML has no inline SVG"
grep -qiE '<(script|link|img)[^>]*(src|href)=' "$work/r.html" && fail "HTML loads external assets"
ls "$work" | grep -q '\.tmp\.' && fail "temporary file left behind"

# ---- --label-by: per-value label rates ------------------------------------------------
"$LEAP" stats "$d" --label-by C9 --json > "$work/lb" || fail "--label-by exited non-zero"
python3 - "$work/lb" <<'EOF' || fail "--label-by JSON has no per-value rates"
import json, sys
s = json.load(open(sys.argv[1]))
c9 = [c for c in s["columns"] if c["name"] == "C9"][0]
assert c9["top"], "no top values"
for v in c9["top"]:
    assert v["label_rate"] is None or 0 <= v["label_rate"] <= 1, v
assert any(v["label_rate"] is not None for v in c9["top"])
EOF
"$LEAP" stats "$d" --label-by C9 | grep -q "label rate" || fail "table has no label-rate column"

# ---- thread-count invariance of the exact figures --------------------------------------
"$LEAP" stats "$d" --json --threads 1 > "$work/j1" || fail "--threads 1"
"$LEAP" stats "$d" --json --threads 3 > "$work/j3" || fail "--threads 3"
python3 - "$work/j1" "$work/j3" <<'EOF' || fail "exact figures differ across thread counts"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for x, y in zip(a["columns"], b["columns"]):
    for k in ("present", "missing", "distinct", "min", "max", "mean"):
        assert x.get(k) == y.get(k), (x["name"], k, x.get(k), y.get(k))
    assert [v["count"] for v in x["top"][:3]] == [v["count"] for v in y["top"][:3]], x["name"]
EOF

# ---- bad input: non-zero exit, one line on stderr -------------------------------------
one_line_error() { # NAME EXPECTED_RC PATTERN -- ARGS...
    local name=$1 want=$2 pat=$3; shift 4
    "$LEAP" stats "$@" > /dev/null 2> "$work/e"
    local rc=$?
    [ "$rc" -ne 0 ] || fail "$name: exit 0"
    [ "$want" = any ] || [ "$rc" -eq "$want" ] || fail "$name: exit $rc, want $want"
    grep -q -- "$pat" "$work/e" || fail "$name: stderr does not match '$pat': $(cat "$work/e")"
    [ "$(grep -c 'error' "$work/e")" -eq 1 ] || fail "$name: not one error line: $(cat "$work/e")"
}
one_line_error "unknown column" 1 "NoSuchCol" -- "$d" --label-by C9,NoSuchCol
one_line_error "bad flag" 2 "--bogus" -- "$d" --bogus
one_line_error "bad top" 2 "--top" -- "$d" --top 0
one_line_error "no dataset" 2 "no dataset" --
one_line_error "missing file" 1 "nope.lds" -- "$work/nope.lds"
head -c 1000 "$d" > "$work/cut.lds"
one_line_error "corrupt file" 1 "cut.lds" -- "$work/cut.lds"
[ ! -e "$work/x.html" ] || fail "html written on error"
echo "ok"
