#!/usr/bin/env bash
# End-to-end GBDT through the CLI: transform spec (bucketize numerics,
# vocabulary categoricals) -> train gbdt / gbdt_lr -> eval -> predict ->
# inspect (tree sizes, feature importance); threads=1 and threads=2 give the
# same model; early stopping keeps the best iteration; raw-file scores equal
# dataset scores; a spec with raw numerics is refused with a clear message;
# without --transform the model fits its own default bins.
set -euo pipefail
: "${LEAP:?set LEAP to the leap binary}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fail() { echo "FAIL: $*" >&2; exit 1; }
auc() { "$LEAP" eval --model "$1" --data d.test.lds --json | sed -n 's/.*"auc": *\([0-9.]*\).*/\1/p' | head -1; }

"$LEAP" datagen --rows 40000 --seed 5 -o d.tsv >/dev/null
"$LEAP" ingest --format criteo d.tsv -o d.lds --row-group-rows 4096 >/dev/null 2>&1
"$LEAP" split d.lds --by hash --fractions 0.8,0.1,0.1 -o d >/dev/null
{
    echo "features:"
    for i in $(seq 1 13); do printf '  - source: I%d\n    ops: [bucketize: {quantiles: 64}]\n' "$i"; done
    for i in $(seq 1 26); do printf '  - source: C%d\n    ops: [vocabulary: {top_k: 200}]\n' "$i"; done
} > spec.yaml
"$LEAP" transform fit --spec spec.yaml --data d.train.lds -o t.ltf >/dev/null 2>&1

"$LEAP" train --model gbdt --train d.train.lds --transform t.ltf -o g1.leap --threads 1 \
    --set trees=40 --set max_depth=5 --quiet
"$LEAP" train --model gbdt --train d.train.lds --transform t.ltf -o g2.leap --threads 2 \
    --set trees=40 --set max_depth=5 --quiet
"$LEAP" predict --model g1.leap --input d.test.lds -o s1.tsv 2>/dev/null
"$LEAP" predict --model g2.leap --input d.test.lds -o s2.tsv 2>/dev/null
cmp -s s1.tsv s2.tsv || fail "threads 1 and 2 give different gbdt models"

a=$(auc g1.leap)
echo "gbdt test AUC $a"
awk -v a="$a" 'BEGIN{exit !(a > 0.70)}' || fail "gbdt test AUC $a <= 0.70"

# raw rows score like dataset rows
tail -n 200 d.tsv > raw.tsv
"$LEAP" ingest --format criteo raw.tsv -o raw.lds >/dev/null 2>&1
"$LEAP" predict --model g1.leap --input raw.tsv -o r1.tsv 2>/dev/null
"$LEAP" predict --model g1.leap --input raw.lds -o r2.tsv 2>/dev/null
cmp -s r1.tsv r2.tsv || fail "raw-file and dataset scores differ"

# inspect: sizes and importance
"$LEAP" inspect g1.leap > insp.txt
grep -q "^gbdt.trees *40 " insp.txt || fail "inspect: $(cat insp.txt)"
grep -q "gbdt.importance" insp.txt || fail "inspect lacks importance"
grep -Eq "^  (I|C)[0-9]+ +(ordinal|categorical) +[0-9.]+%" insp.txt || fail "no importance rows"

# leafwise growth and early stopping on the validation split
"$LEAP" train --model gbdt --train d.train.lds --valid d.valid.lds --transform t.ltf -o g3.leap \
    --set trees=400 --set growth=leafwise --set num_leaves=63 --set max_depth=0 \
    --set learning_rate=0.5 --set early_stopping_rounds=5 --quiet
n=$("$LEAP" inspect g3.leap | sed -n 's/^gbdt.trees *\([0-9]*\) .*/\1/p')
[ -n "$n" ] && [ "$n" -lt 400 ] || fail "early stopping kept $n trees"
"$LEAP" inspect g3.leap > insp3.txt
grep -q "best_valid_loss .* after $n trees" insp3.txt || fail "best iteration not recorded: $(cat insp3.txt)"

# trees + LR
"$LEAP" train --model gbdt_lr --train d.train.lds --transform t.ltf -o gl.leap \
    --set trees=40 --set max_depth=5 --quiet
b=$(auc gl.leap)
echo "gbdt_lr test AUC $b"
awk -v a="$b" 'BEGIN{exit !(a > 0.70)}' || fail "gbdt_lr test AUC $b <= 0.70"
"$LEAP" inspect gl.leap > insp_gl.txt
grep -q "gbdt_lr.lr" insp_gl.txt || fail "gbdt_lr inspect"

# a raw numeric value (no terminal op) is refused with the reason
printf 'features:\n  - source: I1\n    ops: [log1p]\n  - source: C1\n    ops: [vocabulary: {top_k: 10}]\n' > dense.yaml
if "$LEAP" train --model gbdt --train d.train.lds --transform dense.yaml -o bad.leap --quiet 2> err.txt; then
    fail "gbdt trained on a raw numeric"
fi
grep -q "bucketize" err.txt || fail "unclear error: $(cat err.txt)"
[ ! -e bad.leap ] || fail "bad.leap written"

# (a bundle with a corrupted tree is refused: tests/unit/test_gbdt.c, bundle_* test)
# without --transform the model bins its inputs itself: numerics into
# max_bin - 1 quantile buckets, categoricals by their max_bin - 2 top values
"$LEAP" train --model gbdt --train d.train.lds -o gd.leap --set trees=20 --set max_bin=63 --quiet
"$LEAP" transform show gd.leap --json > gd.json
python3 -c '
import json
d = json.load(open("gd.json"))
f = d["features"]
assert len(f) == 39, len(f)
assert all(x["card"] <= 63 for x in f), [x["card"] for x in f]
assert sum(x["kind"] == "ordinal" for x in f) == 13 and sum(x["kind"] == "categorical" for x in f) == 26
' || fail "default binned transform: $(head -c 300 gd.json)"
a=$(auc gd.leap)
awk -v a="$a" 'BEGIN{exit !(a > 0.70)}' || fail "gbdt with the default bins: test AUC $a"
echo "test_gbdt: ok"
