#!/usr/bin/env bash
# End-to-end for the embedding models through the CLI: a new architecture
# composed only in YAML (two cross layers + a 3-layer MLP) trains, evaluates,
# saves and scores — and keeps scoring after its YAML file is gone (the
# bundle stores it); a transform spec with vocabularies, buckets, DENSE
# values and per-field embedding hints; a killed run resumed from its
# checkpoint ends with the uninterrupted run's model; bad architecture files
# and damaged bundles fail with one-line messages.
set -euo pipefail
: "${LEAP:?set LEAP to the leap binary}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fail() { echo "FAIL: $*" >&2; exit 1; }
export OPENBLAS_NUM_THREADS=1

"$LEAP" datagen --rows 40000 --seed 5 -o d.tsv >/dev/null
"$LEAP" ingest --format criteo d.tsv -o d.lds --row-group-rows 8192 >/dev/null 2>&1
"$LEAP" split d.lds --by hash --fractions 0.8,0.1,0.1 -o d >/dev/null
auc() { "$LEAP" eval --model "$1" --data d.test.lds --json | sed -n 's/.*"auc": *\([0-9.]*\).*/\1/p' | head -1; }

# 1. an architecture nobody wrote C for: DCN-style cross layers, then a 3-layer MLP,
#    plus first-order weights, layer norm and dropout
cat > arch.yaml <<'YAML'
# two cross layers (low rank 16), then an MLP of three layers
embedding_dim: 8
wide: true
cross: {layers: 2, rank: 16, structure: stacked}
mlp: [64, 32, 16]
layer_norm: true
dropout: 0.1
YAML
"$LEAP" train --model deep --set architecture=arch.yaml --train d.train.lds --valid d.valid.lds \
    -o yaml.leap --threads 2 --seed 3 --epochs 2 --set hash_bits=16 --set batch_size=256 \
    --set lr=0.002 --quiet
a=$(auc yaml.leap)
echo "YAML-composed network: test AUC $a"
awk -v a="$a" 'BEGIN{exit !(a > 0.72 && a < 1)}' || fail "test auc $a not in (0.72, 1)"
"$LEAP" inspect yaml.leap > insp.txt
grep -q "deep" insp.txt || fail "inspect does not name the model"
"$LEAP" predict --model yaml.leap --input d.test.lds -o s1.tsv 2>/dev/null
rm arch.yaml # the bundle holds the architecture: scoring does not need the file
"$LEAP" predict --model yaml.leap --input d.test.lds -o s2.tsv 2>/dev/null
cmp -s s1.tsv s2.tsv || fail "scores changed after the architecture file was removed"
tail -n 4000 d.tsv > raw.tsv # raw rows score through the same featurizer
"$LEAP" predict --model yaml.leap --input raw.tsv -o raw.scores 2>/dev/null
[ "$(wc -l < raw.scores)" -ge 4000 ] || fail "raw scoring wrote $(wc -l < raw.scores) lines"

# 2. a transform spec over 17 of the 39 columns (LR reaches ~0.67 on it): vocabularies
#    with embedding hints, buckets, DENSE values
#    (DLRM's bottom MLP reads them; DeepFM embeds them)
cat > spec.yaml <<'YAML'
features:
  - source: [I1, I2, I3, I4, I5]
    ops: [bucketize: {quantiles: 8}]
  - source: [I6, I7]
    ops: [fill_missing: {value: 0}, log1p, standardize]
  - source: [C1, C2, C3, C4, C5, C6, C7, C8, C9, C10]
    ops: [vocabulary: {min_count: 2, oov_buckets: 4}]
    embedding_dim: 8
YAML
for m in dlrm deepfm; do
    "$LEAP" train --model $m --transform spec.yaml --train d.train.lds -o spec_$m.leap --threads 2 \
        --epochs 1 --set embedding_dim=8 --set hidden=32,16 --set bottom=16 --set batch_size=256 \
        --set lr=0.003 --quiet
    s=$(auc spec_$m.leap)
    echo "$m on a transform spec: test AUC $s"
    awk -v a="$s" 'BEGIN{exit !(a > 0.64 && a < 1)}' || fail "$m spec auc $s"
done

# 3. killed after 30 steps (checkpoints every 7), resumed: the very model of an
#    uninterrupted run (--threads 1 --seed S)
run=(train --model deepfm --train d.train.lds -o full.leap --threads 1 --seed 9 --epochs 2
     --set hash_bits=16 --set embedding_dim=8 --set hidden=32,16 --set batch_size=256 --quiet)
"$LEAP" "${run[@]}"
"$LEAP" "${run[@]}" -o killed.leap --set checkpoint=ck.bin --set checkpoint_every=7 \
    --set halt_after=30 2> halt.err && fail "halt_after did not stop the run"
grep -q "halted after 30 steps" halt.err || fail "unexpected: $(cat halt.err)"
[ -f killed.leap ] && fail "a killed run left a bundle"
"$LEAP" "${run[@]}" -o resumed.leap --set checkpoint=ck.bin --set checkpoint_every=7 --set resume=true
"$LEAP" predict --model full.leap --input d.test.lds -o f.tsv 2>/dev/null
"$LEAP" predict --model resumed.leap --input d.test.lds -o r.tsv 2>/dev/null
cmp -s f.tsv r.tsv || fail "resumed run differs from the uninterrupted one"
# a real SIGKILL in the middle of a run leaves a usable checkpoint (atomic writes)
"$LEAP" "${run[@]}" -o k2.leap --epochs 30 --set checkpoint=ck2.bin --set checkpoint_every=5 &
pid=$!
for _ in $(seq 100); do [ -s ck2.bin ] && break; sleep 0.1; done
kill -9 $pid 2>/dev/null || true
wait $pid 2>/dev/null || true
[ -s ck2.bin ] || fail "no checkpoint after the kill"
"$LEAP" "${run[@]}" -o k2.leap --epochs 30 --set checkpoint=ck2.bin --set checkpoint_every=5 \
    --set resume=true --set patience=1 --valid d.valid.lds 2> resume.err \
    || fail "resume after SIGKILL: $(cat resume.err)"
[ -s k2.leap ] || fail "no bundle after the resumed run"

# 4. bad input: one-line errors with the position, non-zero exits
printf 'mlp: [64, 32]\ncross: {layers: 2, rnak: 4}\n' > bad.yaml
"$LEAP" train --model deep --set architecture=bad.yaml --train d.train.lds -o x.leap 2> e1.txt \
    && fail "bad architecture accepted"
grep -q "bad.yaml:2:20: cross: unknown key 'rnak'" e1.txt || fail "message: $(cat e1.txt)"
"$LEAP" train --model deep --train d.train.lds -o x.leap 2> e2.txt && fail "deep without a file"
grep -q "architecture=FILE.yaml" e2.txt || fail "message: $(cat e2.txt)"
"$LEAP" train --model deepfm --set hidden=64,x --train d.train.lds -o x.leap 2> e3.txt \
    && fail "bad hidden accepted"
grep -q "option 'hidden'" e3.txt || fail "message: $(cat e3.txt)"
head -c 3000 yaml.leap > trunc.leap
"$LEAP" eval --model trunc.leap --data d.test.lds 2> e4.txt && fail "truncated bundle accepted"
[ "$(wc -l < e4.txt)" -le 2 ] || fail "multi-line error: $(cat e4.txt)"
echo "test_deep: ok"
