#!/usr/bin/env bash
# End-to-end: pipelines, caching, the blessing gate, sweeps and the tracking
# store through the CLI, as a user would drive them:
#   datagen -> ingest -> split -> train -> eval -> push; a second run skips
#   every step (< 2 s); one changed train option reruns only train, eval and
#   push; --force; a worse model is refused (and the refusal recorded), a
#   better one pushed; a pipeline killed (SIGKILL) during training reruns only
#   what did not finish and leaves no run marked successful that was not;
#   bad files fail with FILE:LINE:COL; a grid sweep; two sweeps at once on one
#   store; runs list/show/compare/export, lineage, and a tracked plain command.
set -euo pipefail
: "${LEAP:?set LEAP to the leap binary}"
tmp=$(mktemp -d)
bg=
trap '[ -n "$bg" ] && kill -9 $bg 2>/dev/null; rm -rf "$tmp"' EXIT
cd "$tmp"
fail() { echo "FAIL: $*" >&2; exit 1; }
export LEAP_STORE=$tmp/leap.db

cat > spec.yaml <<'EOF'
features:
  - source: [I1, I2, I3, I4, I5, I6, I7, I8, I9, I10, I11, I12, I13]
    ops: [bucketize: {quantiles: 16}]
  - source: [C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, C11, C12, C13, C14, C15, C16, C17, C18,
             C19, C20, C21, C22, C23, C24, C25, C26]
    ops: [vocabulary: {min_count: 2, oov_buckets: 4}]
  - {name: C1xC14, cross: [C1, C14], buckets: 10000}
EOF
cat > p.yaml <<'EOF'
name: ctr
experiment: e2e
steps:
  data:
    kind: datagen
    options: {rows: 20000, seed: 7}
  ingest:
    kind: ingest
    inputs: {data: "${data.data}"}
    options: {format: criteo, row_group_rows: 4096}
  split:
    kind: split
    inputs: {data: "${ingest.dataset}"}
    options: {fractions: [0.8, 0.1, 0.1]}
  transform:
    kind: transform_fit
    inputs: {spec: spec.yaml, data: "${split.train}"}
  train:
    kind: train
    inputs: {train: "${split.train}", valid: "${split.valid}", transform: "${transform.transform}"}
    options: {model: lr, epochs: 2, threads: 1, set: {alpha: 0.05}}
  eval:
    kind: eval
    inputs: {model: "${train.model}", data: "${split.test}"}
  push:
    kind: push
    inputs: {model: "${train.model}", metrics: "${eval.metrics}"}
    options:
      name: ctr
      require: ["auc >= 0.6", "auc >= baseline - 0.001", "calibration within [0.8, 1.2]"]
EOF

# 1. first run: everything runs, the model is pushed as version 1
"$LEAP" run p.yaml --jobs 2 > out1.txt 2> err1.txt || { cat err1.txt; fail "first run"; }
grep -q "7 ran, 0 cached, 0 failed" out1.txt || fail "first run: $(cat out1.txt)"
[ -f models/ctr/1/model.leap ] && [ -f models/ctr/1/metrics.json ] || fail "not pushed: $(ls -R models)"

# 2. second run: every step cached, under 2 s
t0=$(date +%s.%N)
"$LEAP" run p.yaml > out2.txt 2> err2.txt
t1=$(date +%s.%N)
grep -q "0 ran, 7 cached" out2.txt || fail "second run did not skip: $(cat out2.txt err2.txt)"
[ "$(grep -c '] cached' err2.txt)" -eq 7 ] || fail "cached steps not reported: $(cat err2.txt)"
awk -v a="$t0" -v b="$t1" 'BEGIN{exit !(b - a < 2)}' || fail "cached rerun took $(echo "$t1 - $t0" | bc) s"
[ ! -d models/ctr/2 ] || fail "a cached push pushed again"

# 3. one train option changed: train, eval, push rerun; a worse model (a
#    heavy L1) is refused by the relative threshold, and that is recorded
sed 's/alpha: 0.05}/alpha: 0.05, l1: 30}/' p.yaml > worse.yaml
"$LEAP" run worse.yaml > out3.txt 2> err3.txt || { cat err3.txt; fail "worse run"; }
grep -q "3 ran, 4 cached" out3.txt || fail "changed option: $(cat out3.txt err3.txt)"
for s in train eval push; do grep -q "^\[$s\] done" err3.txt || fail "$s did not rerun"; done
for s in data ingest split transform; do grep -q "^\[$s\] cached" err3.txt || fail "$s was not cached"; done
grep -q "^\[push\] done.*refused" err3.txt || fail "worse model not refused: $(cat err3.txt)"
[ ! -d models/ctr/2 ] || fail "a refused model was pushed"
"$LEAP" runs list --filter "kind = push and tags.decision = refused" > refused.txt
grep -q "^1 run(s)" refused.txt || fail "refusal not recorded: $(cat refused.txt)"
id=$(awk '$5 == "push" {print $1}' refused.txt)
"$LEAP" runs show "$id" > refused_show.txt
grep -q "baseline.auc" refused_show.txt || fail "refusal numbers not recorded"
grep -q "reason.*auc" refused_show.txt || fail "refusal reason not recorded"

# a better model (higher learning rate on this data) is pushed as version 2
sed 's/alpha: 0.05/alpha: 0.08/' p.yaml > better.yaml
"$LEAP" run better.yaml > out4.txt 2> err4.txt || { cat err4.txt; fail "better run"; }
grep -q "^\[push\] done.*pushed" err4.txt || fail "better model not pushed: $(cat err4.txt)"
[ -f models/ctr/2/model.leap ] || fail "no version 2"
ls -a models/ctr | grep -q tmp && fail "temporary folder left in the repository"

# 4. --force train reruns train and everything downstream, nothing upstream
"$LEAP" run better.yaml --force train > out5.txt 2> err5.txt
grep -q "3 ran, 4 cached" out5.txt || fail "--force train: $(cat out5.txt)"
grep -q "^\[split\] cached" err5.txt || fail "--force train reran split"

# 5. kill test: SIGKILL during training, rerun finishes without redoing the rest
sed -e 's/epochs: 2, threads: 1/epochs: 400, threads: 1/' \
    -e 's/alpha: 0.05}/alpha: 0.05, patience: 0}/' p.yaml > slow.yaml
"$LEAP" run slow.yaml > kill_out.txt 2> kill_err.txt &
bg=$!
for _ in $(seq 1 200); do grep -q "^\[train\] started" kill_err.txt && break; sleep 0.05; done
grep -q "^\[train\] started" kill_err.txt || fail "train never started: $(cat kill_err.txt)"
sleep 0.3
kill -9 "$bg"
wait "$bg" 2>/dev/null || true
bg=
killed_run=$(sed -n 's/^\[train\] started (run \([0-9]*\).*/\1/p' kill_err.txt)
grep -q "^\[train\] done" kill_err.txt && fail "training finished before the kill (test too fast)"
sleep 0.2 # the step process dies with the pipeline (PR_SET_PDEATHSIG)
"$LEAP" run slow.yaml --set train.epochs=3 > rerun_out.txt 2> rerun_err.txt ||
    { cat rerun_err.txt; fail "rerun after kill"; }
for s in data ingest split transform; do grep -q "^\[$s\] cached" rerun_err.txt || fail "$s redone after kill"; done
grep -q "^\[train\] done" rerun_err.txt || fail "train not redone after kill"
"$LEAP" runs show "$killed_run" | head -1 | grep -q "killed$" ||
    fail "killed run $killed_run not marked killed: $("$LEAP" runs show "$killed_run" | head -1)"
"$LEAP" runs list --filter "status = running" | grep -q "^0 run(s)" || fail "runs left running"

# 6. bad pipeline files: FILE:LINE:COL, exit 2, nothing run
bad() { # file expected-message
    if "$LEAP" run "$1" > /dev/null 2> bad_err.txt; then fail "$1 accepted"; fi
    grep -q -- "$2" bad_err.txt || fail "$1: expected '$2', got: $(cat bad_err.txt)"
}
printf 'steps:\n  a:\n    kind: ingest\n    inptus: {data: x.tsv}\n' > b1.yaml
bad b1.yaml "b1.yaml:4:5: step 'a': unknown key 'inptus'"
printf 'steps:\n  a:\n    kind: split\n    inputs: {data: "${nope.dataset}"}\n' > b2.yaml
bad b2.yaml "b2.yaml:4:20: step 'a': input 'data' refers to unknown step 'nope'"
printf 'steps:\n  a:\n    kind: split\n    inputs: {data: "${b.train}"}\n  b:\n    kind: split\n    inputs: {data: "${a.train}"}\n' > b3.yaml
bad b3.yaml "b3.yaml:[0-9]*:[0-9]*: cycle"
printf 'steps:\n  t:\n    kind: train\n    inputs: {train: x.lds}\n    options: {set: {alpha: -1}}\n' > b4.yaml
bad b4.yaml "b4.yaml:5:21: step 't': set.alpha: option 'alpha'"
printf 'steps:\n  a:\n    kind: split\n    inputs: {data: "${b.nope}"}\n  b:\n    kind: ingest\n    inputs: {data: x}\n' > b5.yaml
bad b5.yaml "b5.yaml:4:20: .*has no output 'nope'"
printf 'steps:\n  a: {kind: trian}\n' > b6.yaml
bad b6.yaml "b6.yaml:2:13: step 'a': unknown kind 'trian'"
printf 'steps:\n  a: [unclosed\n' > b7.yaml
bad b7.yaml "b7.yaml:[0-9]*:[0-9]*:"

# 7. grid sweep of 4 trials with 2 jobs: upstream cached, a ranked table,
#    the best options written as a pipeline file that runs
"$LEAP" sweep p.yaml --param 'train.alpha=[0.02,0.1]' --param 'train.l2=[0.1,3]' --jobs 2 \
    --quiet -o best.yaml > sweep.txt 2> sweep_err.txt || { cat sweep_err.txt; fail "sweep"; }
grep -q "4 trial(s), strategy grid" sweep.txt || fail "sweep: $(cat sweep.txt)"
[ "$(grep -c ' finished ' sweep.txt)" -eq 4 ] || fail "sweep trials: $(cat sweep.txt)"
grep -q "^total:.*cost" sweep.txt || fail "no sweep total"
grep -q "alpha: 0.1" best.yaml || fail "best.yaml: $(cat best.yaml)"
"$LEAP" run best.yaml --check > /dev/null || fail "best.yaml does not load"

# 8. two sweeps at once on one store: no errors, no lost rows
"$LEAP" sweep p.yaml --param 'train.l1=[0,0.1,1]' --jobs 2 --quiet -o s1.yaml > sa.txt 2>&1 &
pa=$!
"$LEAP" sweep p.yaml --param 'train.beta=[0.5,2,4]' --jobs 2 --quiet -o s2.yaml > sb.txt 2>&1 &
pb=$!
wait $pa || fail "first concurrent sweep: $(cat sa.txt)"
wait $pb || fail "second concurrent sweep: $(cat sb.txt)"
"$LEAP" runs list --filter "kind = trial" | grep -q "^10 run(s)" || fail "trial rows lost"
"$LEAP" runs list --filter "kind = sweep and status = finished" | grep -q "^3 run(s)" ||
    fail "sweep rows lost"

# 9. reading the store
"$LEAP" runs list --filter 'metrics.auc > 0.7' --sort -metrics.auc --limit 3 > top.txt
[ "$(grep -c ' eval ' top.txt)" -eq 3 ] || fail "list: $(cat top.txt)"
"$LEAP" runs list --filter 'metrics.auc >' 2> ferr.txt && fail "bad filter accepted"
grep -q "column 14" ferr.txt || fail "filter error without column: $(cat ferr.txt)"
pipe=$(awk '$5 == "pipeline" {print $1; exit}' <("$LEAP" runs list))
"$LEAP" runs show "$pipe" > show.txt
for w in "feature generation" training evaluation "eval.auc" "train.alpha"; do
    grep -q "$w" show.txt || fail "runs show lacks '$w'"
done
ids=$(awk '$5 == "eval" && $6 == "finished" {print $1}' <("$LEAP" runs list) | head -2 | tr '\n' ' ')
"$LEAP" runs compare $ids > cmp.txt
grep -q "^\* auc" cmp.txt || fail "compare does not mark differences: $(cat cmp.txt)"
"$LEAP" runs export --csv > runs.csv
[ "$(wc -l < runs.csv)" -gt 50 ] || fail "export --csv"
head -1 runs.csv | grep -q "metrics.auc" || fail "csv header"
"$LEAP" runs export --json --filter 'kind = sweep' | python3 -c 'import json,sys; d=json.load(sys.stdin); assert len(d) == 3' ||
    fail "export --json"
"$LEAP" lineage models/ctr/1/model.leap > lin.txt
for w in "written by run" "(train)" "(transform_fit)" "(split)" "(ingest)" "(datagen)"; do
    grep -qF "$w" lin.txt || fail "lineage lacks '$w': $(cat lin.txt)"
done

# 10. a plain command is tracked (leap.db exists here) with its metrics and files
"$LEAP" eval --model models/ctr/1/model.leap --data "$(ls .leap/steps/split/*/split.test.lds | head -1)" > /dev/null
"$LEAP" runs show last > last.txt
grep -q "(eval)" last.txt && grep -q "^  auc" last.txt && grep -q "in   model" last.txt ||
    fail "plain eval not tracked: $(cat last.txt)"
# 11. caching is by content: touching an input reruns nothing, a changed byte reruns
"$LEAP" datagen --rows 2000 --seed 3 -o raw.tsv > /dev/null
printf 'steps:\n  ingest: {kind: ingest, inputs: {data: raw.tsv}, options: {format: criteo}}\n  stats: {kind: stats, inputs: {data: "${ingest.dataset}"}}\n' > lit.yaml
"$LEAP" run lit.yaml 2> /dev/null | grep -q "2 ran, 0 cached" || fail "literal input: first run"
touch raw.tsv
"$LEAP" run lit.yaml 2> /dev/null | grep -q "0 ran, 2 cached" || fail "touch reran a step"
head -1 raw.tsv >> raw.tsv
"$LEAP" run lit.yaml 2> /dev/null | grep -q "2 ran, 0 cached" || fail "changed input not rerun"
echo "test_pipeline: ok"
