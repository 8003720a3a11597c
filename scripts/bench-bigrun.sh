#!/usr/bin/env bash
# A run the size of the real job (BENCHMARKS.md, "Runs the size of the real job").
# Usage: scripts/bench-bigrun.sh [BIN] [REQUESTS] [PORT]
# Runs REQUESTS requests (64 tokens each) with `BIN run` against `BIN sim` (zero token time) on
# a fresh database and prints its peak memory; then serves that database and times the run page
# (render time, bytes raw and gzip), the runs list and the three downloads, with the server's
# peak memory before and after.
set -euo pipefail
BIN=${1:-target/release/bakeoff}
N=${2:-1000000}
PORT=${3:-3998}
SIM_PORT=$((PORT + 1))
DIR=$(mktemp -d)
trap 'kill "${SIM:-}" "${SRV:-}" 2>/dev/null || true; rm -rf "$DIR"' EXIT
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$BIN" sim --addr "127.0.0.1:$SIM_PORT" --ttft-ms 0 --tpot-ms 0 --max-concurrency 4096 >"$DIR/sim.log" 2>&1 &
SIM=$!
until curl -s -o /dev/null "http://127.0.0.1:$SIM_PORT/health"; do sleep 0.2; done
echo "== bakeoff run: $N requests"
/usr/bin/time -v "$BIN" run --endpoint "http://127.0.0.1:$SIM_PORT" --model sim-gemma-3-4b \
  --dataset "$ROOT/../shared/data/synthetic_100.jsonl" --requests "$N" --concurrency 256 --max-tokens 64 \
  --db "$DIR/b.db" --json >"$DIR/summary.json" 2>"$DIR/run.err" || { tail -20 "$DIR/run.err"; exit 1; }
grep -E "Elapsed|Maximum resident" "$DIR/run.err"
python3 -c "import json,sys; s=json.load(open(sys.argv[1])); s=s.get('summary',s); print('requests', s.get('requests'), 'output tok/s', round(s.get('output_tokens_per_s',0)))" "$DIR/summary.json" || true
ls -la "$DIR/b.db" | awk '{print "database", $5, "bytes"}'
kill "$SIM"; SIM=
echo 'bench password 123' | "$BIN" user add bench --role admin --db "$DIR/b.db" >/dev/null 2>&1
"$BIN" serve --addr "127.0.0.1:$PORT" --db "$DIR/b.db" --no-sim --site-root "$ROOT/target/site" >"$DIR/serve.log" 2>&1 &
SRV=$!
until curl -s -o /dev/null "http://127.0.0.1:$PORT/login"; do sleep 0.2; done
TOKEN=$(curl -s -X POST "http://127.0.0.1:$PORT/api/token" -H 'content-type: application/json' \
  -d '{"name":"bench","password":"bench password 123"}' | sed 's/.*"token":"\([^"]*\)".*/\1/')
H="Authorization: Bearer $TOKEN"
hwm() { grep VmHWM /proc/$SRV/status | awk '{print $2/1024 " MB"}'; }
echo "== serve: idle peak $(hwm)"
for i in 1 2 3 4; do
  curl -s -H "$H" -o "$DIR/page.html" -w "run page: %{time_total} s, %{size_download} bytes\n" "http://127.0.0.1:$PORT/runs/1"
done
echo "run page gzip: $(gzip -c "$DIR/page.html" | wc -c) bytes"
curl -s -H "$H" -o /dev/null -w "runs list page: %{time_total} s\n" "http://127.0.0.1:$PORT/"
curl -s -H "$H" -o /dev/null -w "compare page: %{time_total} s\n" "http://127.0.0.1:$PORT/compare?run=1"
echo "after pages: peak $(hwm)"
for f in jsonl csv batch; do
  curl -s -H "$H" -o /dev/null -w "download $f: %{time_total} s, %{size_download} bytes, first byte %{time_starttransfer} s\n" \
    "http://127.0.0.1:$PORT/api/runs/1/records?format=$f"
  echo "  server peak after: $(hwm)"
done
