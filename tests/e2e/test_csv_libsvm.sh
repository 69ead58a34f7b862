#!/usr/bin/env bash
# End-to-end on the other input formats: a CSV log with a YAML schema
# (numeric, categorical, weighted multi-categorical, weight, timestamp and an
# ignored column) through ingest -> time split -> train -> eval --slice-by ->
# predict, where the raw CSV scores exactly as its ingested dataset; and a
# libsvm file through ingest -> train -> predict.
set -euo pipefail
: "${LEAP:?set LEAP to the leap binary}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fail() { echo "FAIL: $*" >&2; exit 1; }

cat > schema.yaml <<'Y'
delimiter: ","
header: true
columns:
  - {name: click, type: label}
  - {name: price, type: numeric}
  - {name: site, type: categorical}
  - {name: tags, type: multi_categorical, separator: "|", weighted: true}
  - {name: w, type: weight}
  - {name: ts, type: timestamp, format: "%Y-%m-%d %H:%M:%S"}
  - {name: note, type: ignore}
Y
# 6000 rows whose click rate depends on the site and on one tag
awk 'BEGIN {
  srand(7); print "click,price,site,tags,w,ts,note";
  for (i = 0; i < 6000; i++) {
    s = int(rand() * 20); t1 = int(rand() * 8); t2 = int(rand() * 8);
    p = 0.05 + 0.1 * (s % 5) + (t1 == 3 ? 0.4 : 0);
    c = rand() < p ? 1 : 0;
    price = (i % 7 == 0) ? "" : sprintf("%.2f", rand() * 100);
    printf "%d,%s,site%d,\"t%d:%.1f|t%d\",1,2026-01-%02d %02d:%02d:00,\"free, text\"\n",
           c, price, s, t1, 0.5 + rand(), t2, 1 + int(i / 250), i % 24, i % 60;
  } }' > log.csv
"$LEAP" ingest --format csv --schema schema.yaml log.csv -o log.lds >/dev/null
"$LEAP" split log.lds --by time:ts --fractions 0.7,0.3 -o log >/dev/null
"$LEAP" train --model lr --train log.train.lds -o csv.leap --epochs 3 --set hash_bits=16 --quiet
"$LEAP" eval --model csv.leap --data log.test.lds --json > e.json
auc=$(sed -n 's/.*"auc": *\([0-9.]*\).*/\1/p' e.json | head -1)
awk -v a="$auc" 'BEGIN{exit !(a > 0.65)}' || fail "csv model test auc $auc <= 0.65"
"$LEAP" eval --model csv.leap --data log.test.lds --slice-by site > slices.txt
grep -q "slices by site" slices.txt || fail "no slice table"
"$LEAP" inspect csv.leap | grep -q "tags:multi_hash" || fail "tags is not a multi_hash field"
# the raw CSV scores exactly as its dataset
"$LEAP" predict --model csv.leap --input log.csv --format csv --schema schema.yaml -o raw.tsv 2>/dev/null
"$LEAP" predict --model csv.leap --input log.lds -o ds.tsv 2>/dev/null
cmp -s raw.tsv ds.tsv || fail "raw CSV and dataset scores differ"
[ "$(wc -l < raw.tsv)" -eq 6001 ] || fail "expected 6000 scores"
# a CSV row with a bad number names its file and line
sed '5s/^\([01]\),[^,]*,/\1,abc,/' log.csv > bad.csv
if "$LEAP" predict --model csv.leap --input bad.csv --format csv --schema schema.yaml -o b.tsv 2> err.txt; then
    fail "bad CSV row accepted"
fi
grep -q "bad.csv:5" err.txt || fail "error lacks bad.csv:5: $(cat err.txt)"
[ ! -e b.tsv ] || fail "b.tsv written"

# libsvm: label idx:val ...
awk 'BEGIN { srand(3);
  for (i = 0; i < 4000; i++) {
    a = int(rand() * 50); b = 50 + int(rand() * 50); v = rand();
    p = (a < 10 ? 0.6 : 0.15) + 0.2 * v;
    printf "%s %d:1 %d:%.3f\n", (rand() < p ? "+1" : "-1"), a, b, v;
  } }' > d.svm
"$LEAP" ingest --format libsvm d.svm -o d.lds >/dev/null
"$LEAP" train --model lr --train d.lds -o svm.leap --epochs 3 --set hash_bits=14 --quiet
"$LEAP" eval --model svm.leap --data d.lds --json > s.json
auc=$(sed -n 's/.*"auc": *\([0-9.]*\).*/\1/p' s.json | head -1)
awk -v a="$auc" 'BEGIN{exit !(a > 0.65)}' || fail "libsvm model auc $auc <= 0.65"
"$LEAP" predict --model svm.leap --input d.svm --format libsvm -o r.tsv 2>/dev/null
"$LEAP" predict --model svm.leap --input d.lds -o s.tsv 2>/dev/null
cmp -s r.tsv s.tsv || fail "raw libsvm and dataset scores differ"
echo "test_csv_libsvm: ok"
