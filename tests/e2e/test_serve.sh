#!/usr/bin/env bash
# End-to-end: `leap serve` over HTTP with curl and `leap loadtest`, as a user
# would drive it:
#  - scores served for raw Criteo rows equal `leap predict`'s, bit for bit
#    (row and columnar formats); status, metadata, :rank with prices
#  - every error code: 400 (naming the field), 401, 404, 405, 413, 503 (/readyz)
#  - 10,000 malformed or random bodies, then correct answers still
#  - /metrics passes `promtool check metrics`; /healthz, /readyz
#  - hot reload under a steady load: zero failed requests, responses switch to
#    the new version, the old one is freed and RSS comes back within 10 %
#  - a corrupt new version is refused while serving continues on the old one
#  - access log off by default, JSON lines with --access-log; admin off
#    without a token file; SIGTERM under load answers the request in flight and
#    exits 0; --cpu-latency-us holds a PM QoS request or fails clearly; a new
#    model appearing in an
#    empty repository is picked up by the poll
set -euo pipefail
: "${LEAP:?set LEAP to the leap binary}"
command -v curl >/dev/null || { echo "SKIP: curl not installed"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 not installed"; exit 77; }
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
cd "$tmp"
fail() {
    echo "FAIL: $*" >&2
    for f in serve*.log; do [ -f "$f" ] && { echo "--- $f"; tail -20 "$f"; } >&2; done
    exit 1
}
# a command that fails outside an explicit check still says where (set -e alone exits silently)
set -E
trap 'rc=$?; fail "line $LINENO: $BASH_COMMAND (exit $rc)"' ERR

# start_server LOG ARGS...: starts leap serve on a free random port; sets PORT, PID
start_server() {
    local log=$1; shift
    for attempt in 1 2 3 4 5 6; do
        PORT=$((20000 + RANDOM % 20000))
        "$LEAP" serve --port "$PORT" "$@" > "$log.out" 2> "$log" &
        PID=$!
        pids+=("$PID")
        for _ in $(seq 1 200); do
            if curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; then return 0; fi
            kill -0 "$PID" 2>/dev/null || break
            sleep 0.05
        done
        kill -9 "$PID" 2>/dev/null || true
        grep -q "cannot listen" "$log" || fail "server did not start: $(cat "$log")"
    done
    fail "no free port found"
}
post() { curl -s -o "$3" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
             --data-binary "@$2" "http://127.0.0.1:$PORT$1"; }
get() { curl -s -o "$2" -w '%{http_code}' "http://127.0.0.1:$PORT$1"; }
expect() { # expect CODE GOT WHAT
    [ "$1" = "$2" ] || fail "$3: HTTP $2, expected $1: $(cat out.json 2>/dev/null)"
}

# ---- models: two LR versions of the same data, different scores ---------------
"$LEAP" datagen --rows 6000 --seed 11 -o d.tsv >/dev/null
"$LEAP" train --model lr --train d.tsv -o m1.leap --threads 1 --seed 1 --epochs 1 \
    --set hash_bits=20 --quiet
"$LEAP" train --model lr --train d.tsv -o m2.leap --threads 1 --seed 2 --epochs 2 \
    --set hash_bits=20 --set alpha=0.2 --quiet
mkdir -p repo/ctr/1
cp m1.leap repo/ctr/1/model.leap
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > token
start_server serve.log --models repo --poll 0.2 --admin-token-file token --threads 16 \
    --max-body 5000000
curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null || fail "not ready"

# ---- bit-identical to leap predict ---------------------------------------------
head -200 d.tsv > rows.tsv
"$LEAP" predict --model m1.leap --input rows.tsv -o p1.tsv 2>/dev/null
tail -n +2 p1.tsv | cut -f2 > want1.txt
cat > tojson.py <<'EOF'
import json, sys
# Criteo TSV -> request bodies with the raw text: I as JSON numbers, C as strings
mode, per = sys.argv[1], int(sys.argv[2])
rows = []
for line in open(sys.argv[3]):
    f = line.rstrip("\n").split("\t")
    r = {}
    for i in range(13):
        if f[1 + i] != "":
            r["I%d" % (i + 1)] = int(f[1 + i])
    for i in range(26):
        if f[14 + i] != "":
            r["C%d" % (i + 1)] = f[14 + i]
    rows.append(r)
for k in range(0, len(rows), per):
    chunk = rows[k:k + per]
    if mode == "rows":
        print(json.dumps({"instances": chunk}))
    else:
        cols = {}
        for n in ["I%d" % i for i in range(1, 14)] + ["C%d" % i for i in range(1, 27)]:
            cols[n] = [r.get(n) for r in chunk]
        print(json.dumps({"inputs": cols}))
EOF
cat > preds.py <<'EOF'
import json, sys
# prints the predictions of response files exactly as the server wrote them
for path in sys.argv[1:]:
    text = open(path).read()
    body = text[text.index("[") + 1:text.index("]")]
    for p in body.split(","):
        print(p)
EOF
check_identity() { # MODE WANT [MODEL]: all rows of rows.tsv served in MODE match WANT
    local model=${3:-ctr}
    python3 tojson.py "$1" 50 rows.tsv > req.jsonl
    local i=0 files=()
    while IFS= read -r line; do
        printf '%s' "$line" > "req$i.json"
        code=$(post "/v1/models/$model:predict" "req$i.json" "resp$i.json")
        expect 200 "$code" "predict ($1)"
        files+=("resp$i.json")
        i=$((i + 1))
    done < req.jsonl
    python3 preds.py "${files[@]}" > got.txt
    cmp -s got.txt "$2" || { diff got.txt "$2" | head -5; fail "served scores ($1) differ from leap predict"; }
}
check_identity rows want1.txt
check_identity columns want1.txt
grep -q '"model_version":1' resp0.json || fail "no model_version in $(head -c 200 resp0.json)"

# a model trained with a transform spec (vocabularies, quantile buckets, standardize, a
# cross) is served through its fitted transform, bit-identical too
cat > spec.yaml <<'EOF'
features:
  - {name: i1q, source: I1, ops: [bucketize: {quantiles: 8}]}
  - {name: i5, source: I5, ops: [fill_missing: {value: 0}, log1p, standardize]}
  - {name: i7, source: I7, ops: [log_bucket]}
  - {name: c1, source: C1, ops: [vocabulary: {min_count: 2, oov_buckets: 2}]}
  - {name: c2, source: C2, ops: [hash: {buckets: 1000}]}
  - {name: c3, source: C3, ops: [fill_missing: mode, vocabulary]}
  - {name: x, cross: [c1, i1q], buckets: 5000}
EOF
"$LEAP" train --model lr --train d.tsv --transform spec.yaml -o tf.leap --threads 1 --seed 1 --quiet
mkdir -p repo/tf/.incoming && cp tf.leap repo/tf/.incoming/model.leap && mv repo/tf/.incoming repo/tf/1
"$LEAP" predict --model tf.leap --input rows.tsv -o ptf.tsv 2>/dev/null
tail -n +2 ptf.tsv | cut -f2 > wanttf.txt
for _ in $(seq 1 100); do grep -q "model tf version 1: loaded" serve.log && break; sleep 0.05; done
check_identity rows wanttf.txt tf
check_identity columns wanttf.txt tf
code=$(get /v1/models/tf/metadata out.json); expect 200 "$code" "transform metadata"
grep -q '"name":"C3","type":"categorical"' out.json || fail "tf metadata: $(head -c 300 out.json)"

# bodies built by leap loadtest from the same rows score the same too
"$LEAP" loadtest --data rows.tsv --rows-per-request 200 --max-bodies 1 --write-bodies lt.jsonl 2>/dev/null
code=$(post /v1/models/ctr:predict lt.jsonl out.json); expect 200 "$code" "loadtest body"
python3 preds.py out.json | cmp -s - want1.txt || fail "loadtest bodies score differently"

# ---- status, metadata, rank ------------------------------------------------------
code=$(get /v1/models/ctr out.json); expect 200 "$code" "status"
grep -q '"state":"AVAILABLE"' out.json || fail "status: $(cat out.json)"
code=$(get /v1/models/ctr/versions/1 out.json); expect 200 "$code" "version status"
code=$(get /v1/models/ctr/metadata out.json); expect 200 "$code" "metadata"
grep -q '"name":"C26","type":"categorical"' out.json || fail "metadata: $(head -c 300 out.json)"
code=$(get /v1/models/ctr/versions/1/metadata out.json); expect 200 "$code" "version metadata"
cat > rank.json <<'EOF'
{"context": {"I1": 1, "C1": "68fd1e64"}, "slots": 2, "auction": "gsp", "reserve": 1,
 "candidates": [{"id": "a", "bid": 1.5, "features": {"C3": "x"}},
                {"id": "b", "bid": 0.5, "features": {"C3": "y"}},
                {"id": "c", "bid": 300, "bid_type": "CPM"},
                {"id": "d", "bid": 0.0001}]}
EOF
code=$(post /v1/models/ctr:rank rank.json out.json); expect 200 "$code" "rank"
python3 - out.json <<'EOF' || fail "rank response: $(cat out.json)"
import json, sys
r = json.load(open(sys.argv[1]))
s = r["slots"]
assert r["auction"] == "gsp" and r["candidates"] == 4 and len(s) == 2, r
assert [x["position"] for x in s] == [1, 2]
assert s[0]["ecpm"] >= s[1]["ecpm"]
for x in s:
    assert 0 < x["price"] <= x["bid"], x
    e = x["bid"] * 1000 * x["pctr"] if x["bid_type"] == "CPC" else x["bid"]
    assert abs(e - x["ecpm"]) <= 1e-6 * e, x
assert "d" not in [x["id"] for x in s]  # below the reserve
EOF

# ---- every model family ranks a 100-candidate slate on a server thread -----------------
# (server threads have ~100 KB stacks: a scorer with big stack frames crashed here)
"$LEAP" train --model gbdt --train d.tsv -o g.leap --threads 1 --set trees=30 --quiet
"$LEAP" train --model gbdt_lr --train d.tsv -o gl.leap --threads 1 --set trees=20 --quiet
"$LEAP" train --model deepfm --train d.tsv -o df.leap --threads 1 --set hash_bits=14 \
    --set hidden=32,32 --quiet
"$LEAP" loadtest --data rows.tsv --candidates 100 --slots 3 --max-bodies 1 \
    --write-bodies rank100.json 2>/dev/null
for m in g gl df; do
    mkdir -p "repo/fam_$m/.incoming"
    cp "$m.leap" "repo/fam_$m/.incoming/model.leap"
    mv "repo/fam_$m/.incoming" "repo/fam_$m/1"
done
for m in g gl df; do
    for _ in $(seq 1 100); do [ "$(get "/v1/models/fam_$m" out.json)" = 200 ] && break; sleep 0.05; done
    code=$(post "/v1/models/fam_$m:rank" rank100.json out.json); expect 200 "$code" "rank on $m"
    grep -q '"candidates":100' out.json || fail "rank on $m: $(head -c 300 out.json)"
    code=$(post "/v1/models/fam_$m:predict" lt.jsonl out.json); expect 200 "$code" "200 rows on $m"
done
kill -0 "$PID" || fail "the server died ranking slates"

# ---- every error code ---------------------------------------------------------------
printf '{"instances": [{}, {"I5": "x"}]}' > bad.json
code=$(post /v1/models/ctr:predict bad.json out.json); expect 400 "$code" "bad type"
grep -q 'instances\[1\].I5: expected a number, got string' out.json || fail "400 body: $(cat out.json)"
printf '{"instances": [' > bad.json
code=$(post /v1/models/ctr:predict bad.json out.json); expect 400 "$code" "bad json"
printf '{"candidates": [{"bid": -1}]}' > bad.json
code=$(post /v1/models/ctr:rank bad.json out.json); expect 400 "$code" "bad bid"
grep -q 'candidates\[0\].bid' out.json || fail "rank 400 body: $(cat out.json)"
printf '{"instances": [{}]}' > ok.json
code=$(post /v1/models/nope:predict ok.json out.json); expect 404 "$code" "unknown model"
code=$(post /v1/models/ctr/versions/7:predict ok.json out.json); expect 404 "$code" "unknown version"
code=$(get /v1/models/ctr/versions/7 out.json); expect 404 "$code" "unknown version status"
code=$(post /v1/models/ctr:classify ok.json out.json); expect 404 "$code" "unknown verb"
code=$(get /nothing out.json); expect 404 "$code" "unknown path"
code=$(get /v1/models/ctr:predict out.json); expect 405 "$code" "GET predict"
code=$(post /v1/models/ctr ok.json out.json); expect 405 "$code" "POST status"
code=$(post /metrics ok.json out.json); expect 405 "$code" "POST metrics"
python3 -c 'print("{\"instances\": [" + ",".join(["{\"I1\": 1}"] * 600000) + "]}")' > big.json
code=$(post /v1/models/ctr:predict big.json out.json); expect 413 "$code" "body too large"
code=$(post /admin/reload ok.json out.json); expect 401 "$code" "reload without token"
code=$(curl -s -o out.json -w '%{http_code}' -X POST -H "Authorization: Bearer nope" \
    "http://127.0.0.1:$PORT/admin/reload"); expect 401 "$code" "reload with a wrong token"
code=$(curl -s -o out.json -w '%{http_code}' "http://127.0.0.1:$PORT/admin/reload" \
    -H "Authorization: Bearer $(cat token)"); expect 405 "$code" "GET reload"

# ---- 10,000 malformed or random bodies, then correct answers -------------------------
python3 - > junk.jsonl <<'EOF'
import json, random
random.seed(5)
good = '{"instances": [{"I1": 3, "I2": 7, "C1": "68fd1e64", "C2": "80e26c9b"}]}'
rank = '{"slots": 2, "candidates": [{"id": "a", "bid": 1, "features": {"C1": "x"}}]}'
vals = ['"s"', "1", "-1e308", "1e999", "null", "true", "[]", "{}", "[[1]]", '"\\u0000"',
        '"\\ud800"', "0.5", "[\"a\", 1]", "9" * 400]
out = []
for i in range(2000):
    k = i % 8
    if k == 0:    # random bytes (no newline)
        out.append(bytes(random.randrange(1, 256) for _ in range(random.randrange(1, 200)))
                   .replace(b"\n", b" ").decode("latin-1"))
    elif k == 1:  # truncated
        s = random.choice([good, rank]); out.append(s[:random.randrange(len(s))])
    elif k == 2:  # a value of the wrong type
        out.append('{"instances": [{"I%d": %s, "C%d": %s}]}' % (random.randrange(1, 14),
                   random.choice(vals), random.randrange(1, 27), random.choice(vals)))
    elif k == 3:  # deep nesting
        d = random.randrange(10, 3000); out.append("[" * d + "]" * random.randrange(d))
    elif k == 4:  # bytes flipped in a good body
        s = bytearray(random.choice([good, rank]).encode())
        for _ in range(3): s[random.randrange(len(s))] = random.randrange(32, 127)
        out.append(s.decode("latin-1"))
    elif k == 5:  # rank fields of the wrong type
        out.append('{"slots": %s, "auction": %s, "reserve": %s, "position_ctr": %s, '
                   '"candidates": [{"bid": %s, "bid_type": %s, "id": %s}]}' %
                   tuple(random.choice(vals) for _ in range(7)))
    elif k == 6:  # many rows, a few over the limit of 10,000
        n = random.randrange(0, 300) if i % 80 != 6 else random.randrange(10001, 10100)
        out.append('{"instances": [' + ",".join(["{}"] * n) + "]}")
    else:         # columnar with mismatched lengths or types
        out.append('{"inputs": {"I1": [%s], "C1": %s}}' % (",".join(["1"] * random.randrange(5)),
                   random.choice(vals)))
print("\n".join(out))
EOF
"$LEAP" loadtest --url "http://127.0.0.1:$PORT/v1/models/ctr:predict" --bodies junk.jsonl \
    --rate 2500 --duration 2 --connections 4 --timeout 60 --json j1.json > /dev/null
"$LEAP" loadtest --url "http://127.0.0.1:$PORT/v1/models/ctr:rank" --bodies junk.jsonl \
    --rate 2500 --duration 2 --connections 4 --timeout 60 --json j2.json > /dev/null
python3 - j1.json j2.json <<'EOF' || fail "junk bodies: $(cat j1.json j2.json)"
import json, sys
n = 0
for p in sys.argv[1:]:
    r = json.load(open(p))
    assert r["net_errors"] == 0, r
    n += r["completed"]
assert n >= 10000, n
EOF
kill -0 "$PID" 2>/dev/null || fail "server died on junk"
check_identity rows want1.txt

# ---- metrics -------------------------------------------------------------------------
code=$(get /metrics metrics.txt); expect 200 "$code" "metrics"
grep -q 'leap_requests_total{model="ctr",handler="predict",code="200"}' metrics.txt \
    || fail "metrics: no predict counter"
grep -q 'leap_requests_total{model="ctr",handler="predict",code="400"}' metrics.txt \
    || fail "metrics: no 400 counter"
grep -q 'leap_request_duration_seconds_bucket{model="ctr",handler="predict",le="+Inf"}' \
    metrics.txt || fail "metrics: no latency histogram"
grep -q '^leap_model_versions_loaded{model="ctr"} 1' metrics.txt || fail "metrics: versions"
grep -q '^process_cpu_seconds_total ' metrics.txt || fail "metrics: cpu"
if command -v promtool >/dev/null; then
    promtool check metrics < metrics.txt || fail "promtool check metrics"
else
    echo "note: promtool not installed; metrics format not linted" >&2
fi
[ ! -s serve.log.out ] || fail "access log written without --access-log"

# ---- hot reload under steady load ------------------------------------------------------
rss() { awk '/^VmRSS/ {print $2}' "/proc/$PID/status"; }
python3 tojson.py rows 1 rows.tsv > one.jsonl
"$LEAP" loadtest --url "http://127.0.0.1:$PORT/v1/models/ctr:predict" --bodies one.jsonl \
    --rate 1000 --duration 1 --connections 4 > /dev/null # warm every worker
rss0=$(rss)
"$LEAP" loadtest --url "http://127.0.0.1:$PORT/v1/models/ctr:predict" --bodies one.jsonl \
    --rate 400 --duration 4 --connections 4 --json swap.json --latency-log swap.lat > /dev/null &
lt=$!
sleep 1
mkdir -p repo/ctr/.incoming
cp m2.leap repo/ctr/.incoming/model.leap
mv repo/ctr/.incoming repo/ctr/2 # a version appears whole (the poll picks it up)
wait $lt
python3 - swap.json <<'EOF' || fail "hot swap under load: $(cat swap.json)"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["net_errors"] == 0 and r["http_errors"] == 0 and r["ok"] == r["scheduled"], r
EOF
grep -q "model ctr version 2: loaded" serve.log || fail "version 2 not loaded"
for _ in $(seq 1 100); do grep -q "model ctr version 1: freed" serve.log && break; sleep 0.05; done
grep -q "model ctr version 1: freed" serve.log || fail "version 1 not freed"
"$LEAP" predict --model m2.leap --input rows.tsv -o p2.tsv 2>/dev/null
tail -n +2 p2.tsv | cut -f2 > want2.txt
cmp -s want1.txt want2.txt && fail "the two versions score alike: test is void"
check_identity rows want2.txt
grep -q '"model_version":2' resp0.json || fail "not on version 2"
rss1=$(rss)
if grep -qa __asan_init "$LEAP"; then
    echo "note: AddressSanitizer build (freed memory is quarantined): RSS not checked" >&2
else
    awk -v a="$rss0" -v b="$rss1" 'BEGIN { exit !(b <= 1.10 * a) }' \
        || fail "RSS after the swap $rss1 kB vs $rss0 kB before (> +10%)"
fi
echo "hot swap: RSS ${rss0} kB -> ${rss1} kB; p99 before/after in swap.lat" >&2

# ---- a corrupt version is refused; serving continues -----------------------------------
mkdir -p repo/ctr/.incoming
head -c 5000 m2.leap > repo/ctr/.incoming/model.leap
mv repo/ctr/.incoming repo/ctr/3
code=$(curl -s -o out.json -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/admin/reload" \
    -H "Authorization: Bearer $(cat token)"); expect 200 "$code" "admin reload"
grep -q '"load_failures":1' out.json || fail "reload: $(cat out.json)"
grep -q "model ctr version 3 refused" serve.log || fail "no refusal logged"
check_identity rows want2.txt
code=$(get /v1/models/ctr out.json); expect 200 "$code" "status"
grep -q '"version":"3","state":"END"' out.json || fail "status of v3: $(cat out.json)"
get /metrics metrics.txt >/dev/null
grep -q '^leap_model_load_failures_total{model="ctr"} 1' metrics.txt || fail "no failure metric"

# ---- SIGTERM under load: the request in flight is answered, then exit 0 --------------------
"$LEAP" loadtest --url "http://127.0.0.1:$PORT/v1/models/ctr:predict" --bodies one.jsonl \
    --rate 200 --duration 2 --connections 2 > /dev/null 2>&1 &
lt=$!
python3 - "$PORT" "$PID" <<'EOF' || fail "graceful stop"
import json, os, signal, socket, sys, time, urllib.request
port, pid = int(sys.argv[1]), int(sys.argv[2])
cands = [{"id": str(i), "bid": 1 + i % 7,
          "features": {"C%d" % (1 + j): "v%d" % ((i * 7 + j) % 50) for j in range(26)}}
         for i in range(9000)]
body = json.dumps({"slots": 3, "candidates": cands}).encode()
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"POST /v1/models/ctr:rank HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
          % len(body) + body)
# wait until the server holds it (the metrics request itself is one in flight)
def in_flight():
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port).read().decode()
    return int([l for l in text.splitlines() if l.startswith("leap_requests_in_flight ")][0].split()[1])
t = time.time()
while in_flight() < 2:
    assert time.time() - t < 10, "the big request never got in flight"
os.kill(pid, signal.SIGTERM)
data = b""
s.settimeout(30)
while b"\r\n\r\n" not in data:
    d = s.recv(65536)
    assert d, "connection closed without an answer"
    data += d
assert data.startswith(b"HTTP/1.1 200"), data[:200]
EOF
rc=0; wait "$PID" || rc=$?
[ "$rc" = 0 ] || fail "exit code $rc after SIGTERM"
grep -q "SIGTERM: stopping" serve.log || fail "no stop message"
wait $lt || true

# ---- access log on request; admin off without a token file --------------------------------
start_server serve2.log --models repo --access-log --threads 4
code=$(post /v1/models/ctr:predict ok.json out.json); expect 200 "$code" "predict"
code=$(post /admin/reload ok.json out.json); expect 404 "$code" "admin without a token file"
kill -TERM "$PID"; wait "$PID"
python3 - serve2.log.out <<'EOF' || fail "access log: $(cat serve2.log.out)"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert any(l["path"] == "/v1/models/ctr:predict" and l["status"] == 200 for l in lines), lines
EOF
# ---- --cpu-latency-us: held while serving where the kernel allows it, else a clear error -------
if [ -w /dev/cpu_dma_latency ]; then
    start_server serve4.log --models repo --cpu-latency-us 0 --threads 4
    code=$(post /v1/models/ctr:predict ok.json out.json); expect 200 "$code" "predict with a QoS hold"
    kill -TERM "$PID"; wait "$PID"
else
    if "$LEAP" serve --models repo --port 1 --cpu-latency-us 0 2> qos.err; then
        fail "--cpu-latency-us without access to /dev/cpu_dma_latency started"
    fi
    grep -q "cpu_dma_latency" qos.err || fail "--cpu-latency-us error: $(cat qos.err)"
fi
rc=0
"$LEAP" serve --models repo --cpu-latency-us -3 2> qos.err || rc=$?
[ "$rc" = 2 ] && grep -q "cpu-latency-us" qos.err || fail "--cpu-latency-us -3: rc $rc $(cat qos.err)"
# ---- an empty repository: not ready (503) until a model appears (poll) ---------------------
mkdir -p empty
start_server serve3.log --models empty --poll 0.1 --threads 4
code=$(get /readyz out.json); expect 503 "$code" "readyz with no model"
mkdir -p empty/.incoming && cp m1.leap empty/.incoming/model.leap
mkdir -p empty/new && mv empty/.incoming empty/new/1
for _ in $(seq 1 100); do [ "$(get /readyz out.json)" = 200 ] && break; sleep 0.05; done
code=$(get /readyz out.json); expect 200 "$code" "readyz after a model appeared"
code=$(post /v1/models/new:predict ok.json out.json); expect 200 "$code" "predict on the new model"
kill -TERM "$PID"; wait "$PID"
echo "ok: serve"
