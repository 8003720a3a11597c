#!/usr/bin/env bash
# Build the upgrade fixture: a small database made by a released `bakeoff` binary, with real
# data in every table, for server/tests/upgrade.rs (every migration since is run on it and no
# row may be lost).
#
#   scripts/make-upgrade-fixture.sh BINARY OUT.sqlite
#   e.g. scripts/make-upgrade-fixture.sh /work/prev-release/bakeoff server/tests/fixtures/upgrade/release-0013.sqlite
#
# The data comes through the release's own doors wherever it has one: `user add`, `serve` with
# its built-in simulator, the REST API with a bearer token (POST /api/token), the server
# functions the pages call (queues, grades, votes, planned tests, models), `export` and
# `import`, and a managed launch of server/tests/fake-vllm.sh (a pretend `vllm serve`). The one
# table no public path leaves filled is `workers` (a clean stop deletes the worker's row): the
# server is stopped with SIGKILL at the end, as a crashed worker would be, so its row stays.
# Needs: curl, jq, sqlite3 (apt-get install curl jq sqlite3).
set -euo pipefail

die() { echo "make-upgrade-fixture: $*" >&2; exit 1; }
[[ $# -eq 2 ]] || die "usage: $0 BINARY OUT.sqlite"
for tool in curl jq sqlite3; do
  command -v "$tool" >/dev/null || die "$tool is missing (apt-get install $tool)"
done
BIN=$(realpath "$1")
OUT=$(realpath -m "$2")
[[ -x $BIN ]] || die "$1 is not an executable"
[[ ! -e $OUT ]] || die "$OUT exists: remove it first"
HERE=$(cd "$(dirname "$0")/.." && pwd)

WORK=$(mktemp -d)
SERVE_PID=
cleanup() {
  if [[ -n $SERVE_PID ]]; then kill -9 "$SERVE_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
# The server runs in the work directory, so what it stores names no path of this machine:
# the managed endpoint's command is `./fake-vllm.sh`, its simulator `./bakeoff`.
cd "$WORK"
ln -s "$BIN" bakeoff
cp "$HERE/server/tests/fake-vllm.sh" fake-vllm.sh
DB=fixture.db
PW='fixture password 1'

echo "== users (bakeoff user add)"
for u in boss:admin ana:runner rev1:reviewer rev2:reviewer vic:viewer; do
  echo "$PW" | ./bakeoff user add "${u%%:*}" --role "${u#*:}" --db "$DB"
done

echo "== serve, with the built-in simulator (slow enough for /metrics to be scraped)"
./bakeoff serve --db "$DB" --addr 127.0.0.1:0 --sim-addr 127.0.0.1:0 --site-root "$WORK/no-site" \
  --ttft-ms 40 --tpot-ms 8 >serve.log 2>&1 &
SERVE_PID=$!
URL=
for _ in $(seq 1 100); do
  URL=$(sed -n 's/^Bakeoff is serving on \(http[^ ]*\).*/\1/p' serve.log)
  [[ -n $URL ]] && break
  kill -0 "$SERVE_PID" 2>/dev/null || { cat serve.log >&2; die "serve stopped"; }
  sleep 0.1
done
[[ -n $URL ]] || { cat serve.log >&2; die "serve did not say where it listens"; }
echo "   $URL"

token() {
  curl -sf -X POST "$URL/api/token" -H 'content-type: application/json' \
    -d "{\"name\":\"$1\",\"password\":\"$PW\"}" | jq -er .token
}
BOSS=$(token boss)
token vic >/dev/null # a viewer's token, unused: sessions of several users
REV1=$(token rev1)
REV2=$(token rev2)
# call TOKEN METHOD PATH [curl args...]: the answer's body; fails on an HTTP error, printing it.
call() {
  local tok=$1 method=$2 path=$3
  shift 3
  local out status
  out=$(curl -s -w '\n%{http_code}' -X "$method" "$URL$path" -H "authorization: Bearer $tok" "$@")
  status=${out##*$'\n'}
  out=${out%$'\n'*}
  [[ $status =~ ^(2|3) ]] || die "$method $path: HTTP $status: $out"
  printf '%s' "$out"
}
# A server function's path in this binary: /api/NAME followed by its hash (read from the binary).
SERVER_FNS=$(grep -aoE '/api/[a-z_]+[0-9]{6,}' "$BIN" | sort -u)
sfn() {
  local p
  p=$(grep -E "^/api/$1[0-9]+\$" <<<"$SERVER_FNS" | head -n1)
  [[ -n $p ]] || die "no server function $1 in $BIN"
  printf '%s' "$p"
}
form() { local tok=$1 name=$2; shift 2; call "$tok" POST "$(sfn "$name")" -H 'content-type: application/x-www-form-urlencoded' "$@"; }
json_fn() { call "$1" POST "$(sfn "$2")" -H 'content-type: application/json' -d "$3"; }
wait_run() {
  for _ in $(seq 1 1200); do
    local st
    st=$(call "$BOSS" GET "/api/runs/$1" | jq -r .run.status)
    case $st in
      completed) return 0 ;;
      failed | cancelled | interrupted) die "run $1 ended $st: $(call "$BOSS" GET "/api/runs/$1" | jq -c .run.error)" ;;
    esac
    sleep 0.1
  done
  die "run $1 did not finish within 2 minutes"
}

echo "== a small dataset with the demo's schema and rubric (the upload form)"
sqlite3 "$DB" "SELECT json_object('custom_id', custom_id, 'method', 'POST', 'url', url, 'body', json(body)) \
               FROM dataset_items WHERE dataset_id = 1 ORDER BY idx LIMIT 8" >small.jsonl
sqlite3 "$DB" "SELECT answer_schema FROM datasets WHERE id = 1" >schema.json
sqlite3 "$DB" "SELECT rubric FROM datasets WHERE id = 1" >rubric.json
call "$BOSS" POST /datasets/upload -o /dev/null -F name=fixture-eight -F 'description=Eight demo profiles' \
  -F schema=@schema.json -F rubric=@rubric.json -F file=@small.jsonl
SMALL=$(call "$BOSS" GET /api/datasets | jq -er '.[] | select(.name == "fixture-eight") | .id') ||
  die "the upload was refused (the form redirects with the error; try it on the Datasets page)"

echo "== endpoints: a second one on the simulator with a key, headers, hosted pricing and retries"
SIM=$(call "$BOSS" GET /api/endpoints | jq -er '.[] | select(.id == 1) | .base_url')
SIM_PORT=${SIM##*:}
SIM_PORT=${SIM_PORT%%/*}
EP2=$(call "$BOSS" POST /api/endpoints -H 'content-type: application/json' -d "$(jq -n --arg u "http://localhost:$SIM_PORT" \
  '{name: "sim via localhost", base_url: $u, api_key: "fixture-not-a-secret", headers: {"X-Team": "fixture"},
    price_sheet_id: 1, retries: 2}')" | jq -er .id)

echo "== runs on the simulator (records, server metrics, checks, charts, run access)"
launch() { call "$BOSS" POST /api/runs -H 'content-type: application/json' -d "$1" | jq -er '.run_ids[0]'; }
RUN_A=$(launch "{\"endpoint_id\":1,\"dataset_id\":$SMALL,\"model\":\"sim-gemma-3-4b\",\"requests\":8,\"concurrency\":2,\"max_tokens\":160,\"name\":\"fixture gemma\"}")
wait_run "$RUN_A"
RUN_B=$(launch "{\"endpoint_id\":1,\"dataset_id\":$SMALL,\"model\":\"sim-llama-3.2-1b\",\"requests\":8,\"concurrency\":2,\"max_tokens\":160,\"name\":\"fixture llama\"}")
wait_run "$RUN_B"
RUN_C=$(launch "{\"endpoint_id\":$EP2,\"dataset_id\":$SMALL,\"model\":\"sim-gemma-3-4b\",\"requests\":3,\"concurrency\":3,\"max_tokens\":64}")
wait_run "$RUN_C"
RUN_X=$(launch "{\"endpoint_id\":1,\"dataset_id\":$SMALL,\"model\":\"sim-llama-3.2-1b\",\"requests\":500,\"concurrency\":1,\"name\":\"fixture cancelled\"}")
for _ in $(seq 1 100); do
  [[ $(call "$BOSS" GET "/api/runs/$RUN_X" | jq -r .run.done_requests) -ge 1 ]] && break
  sleep 0.1
done
call "$BOSS" POST "/api/runs/$RUN_X/cancel" >/dev/null
for _ in $(seq 1 100); do
  [[ $(call "$BOSS" GET "/api/runs/$RUN_X" | jq -r .run.status) == cancelled ]] && break
  sleep 0.1
done
[[ $(call "$BOSS" GET "/api/runs/$RUN_X" | jq -r .run.status) == cancelled ]] || die "run $RUN_X was not cancelled"

echo "== a managed launch (launches, model_servers): the fake vllm is too big at first, then fits"
GPU_PORT=
for p in $(shuf -i 20000-60000 -n 50); do
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then GPU_PORT=$p; break; fi
done
[[ -n $GPU_PORT ]] || die "no free port for the fake vllm"
MANAGED=$(call "$BOSS" POST /api/endpoints -H 'content-type: application/json' -d "$(jq -n --arg u "http://127.0.0.1:$GPU_PORT" \
  '{name: "fake gpu", base_url: $u, models: ["google/gemma-3-4b-it"],
    launch_args: ["env", "BAKEOFF_BIN=./bakeoff", "FAKE_KV_TOKENS=2048", "./fake-vllm.sh", "{model}", "--port", "{port}",
                  "--gpu-memory-utilization", "{util}", "--max-model-len", "{max_model_len}", "--max-num-seqs", "{max_num_seqs}", "{eager}"]}')" |
  jq -er .id)
RUN_M=$(launch "{\"endpoint_id\":$MANAGED,\"dataset_id\":$SMALL,\"model\":\"google/gemma-3-4b-it\",\"requests\":3,\"concurrency\":3,\"max_tokens\":32,\"max_model_len\":4096,\"gpu_memory_utilization\":0.9}")
wait_run "$RUN_M"

echo "== export a run, import it back (an imported run), and a run from the command line"
head -n 3 small.jsonl >three.jsonl
./bakeoff export "$RUN_C" --out . --db "$DB" 2>/dev/null
./bakeoff import "run-$RUN_C-output.jsonl" --input three.jsonl --db "$DB"
./bakeoff run --endpoint "$SIM" --model sim-qwen3-4b --dataset three.jsonl --requests 3 --concurrency 2 \
  --max-tokens 48 --name "fixture cli run" --db "$DB" 2>/dev/null

echo "== planning: a model from a config.json, a planned test"
form "$BOSS" add_model --data-urlencode 'name=fixture/tiny-model' --data-urlencode 'quant=bf16' --data-urlencode 'weights_gb=2.5' \
  --data-urlencode 'config={"architectures":["LlamaForCausalLM"],"hidden_size":2048,"num_attention_heads":32,"num_key_value_heads":8,"num_hidden_layers":16,"vocab_size":128256,"max_position_embeddings":131072,"torch_dtype":"bfloat16","intermediate_size":8192}' >/dev/null
form "$BOSS" add_test --data-urlencode 'form[title]=Gemma 3 4B at 8 concurrent' --data-urlencode 'form[model_id]=1' \
  --data-urlencode 'form[endpoint_id]=1' --data-urlencode "form[dataset_id]=$SMALL" --data-urlencode 'form[serve_model]=sim-gemma-3-4b' \
  --data-urlencode 'form[requests]=20' --data-urlencode 'form[concurrency]=8' --data-urlencode 'form[expected]=about 300 tok/s' >/dev/null

echo "== grading: a blind grade queue (closed, so its grades count) and a pairwise queue (left open)"
GQ=$(form "$BOSS" create_queue --data-urlencode 'form[name]=fixture grades' --data-urlencode 'form[kind]=grade' \
  --data-urlencode "form[runs][0]=$RUN_A" --data-urlencode "form[runs][1]=$RUN_B" --data-urlencode 'form[sample_size]=3' \
  --data-urlencode 'form[seed]=7')
PQ=$(form "$BOSS" create_queue --data-urlencode 'form[name]=fixture votes' --data-urlencode 'form[kind]=pairwise' \
  --data-urlencode "form[runs][0]=$RUN_A" --data-urlencode "form[runs][1]=$RUN_B" --data-urlencode 'form[sample_size]=3' \
  --data-urlencode 'form[seed]=7')
for who in REV1 REV2; do
  tok=${!who}
  for pos in 0 1 2 3 4 5 6 7; do
    item=$(form "$tok" grading_item --data-urlencode "queue_id=$GQ" --data-urlencode "position=$pos")
    [[ $item != null ]] || break
    id=$(jq -er .item_id <<<"$item")
    overall=$(( (pos + ${#who}) % 5 + 1 ))
    [[ $who == REV2 && $pos == 1 ]] && overall=$(( overall % 5 + 1 ))
    json_fn "$tok" save_grade "$(jq -n --arg id "$id" --argjson o "$overall" \
      '{grade: {item_id: $id, overall: $o, fields: {}, comment: "fixture grade", gold: false}}')" >/dev/null
  done
  choices=(a b tie both_bad)
  for pos in 0 1 2 3; do
    item=$(form "$tok" grading_item --data-urlencode "queue_id=$PQ" --data-urlencode "position=$pos")
    [[ $item != null ]] || break
    id=$(jq -er .item_id <<<"$item")
    form "$tok" save_vote --data-urlencode "item_id=$id" --data-urlencode "choice=${choices[$pos]}" >/dev/null
  done
done
form "$BOSS" close_queue --data-urlencode "queue_id=$GQ" >/dev/null

echo "== stop serve the hard way (its worker row stays, as a crashed worker's would)"
kill -9 "$SERVE_PID"
wait "$SERVE_PID" 2>/dev/null || true
SERVE_PID=

echo "== every table has rows"
empty=0
for t in $(sqlite3 "$DB" "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"); do
  n=$(sqlite3 "$DB" "SELECT COUNT(*) FROM \"$t\"")
  printf '   %-18s %s\n' "$t" "$n"
  [[ $n -gt 0 ]] || empty=1
done
[[ $empty == 0 ]] || die "a table above is empty: the fixture would not show that an upgrade keeps its rows"
[[ $(sqlite3 "$DB" 'PRAGMA integrity_check') == ok ]] || die "integrity check failed"

mkdir -p "$(dirname "$OUT")"
sqlite3 "$DB" "VACUUM INTO '$OUT'"
sqlite3 "$OUT" 'PRAGMA journal_mode = DELETE' >/dev/null
echo "wrote $OUT ($(stat -c %s "$OUT") bytes, $(sqlite3 "$OUT" 'SELECT MAX(version) FROM _sqlx_migrations') migrations)"
