#!/usr/bin/env bash
# Pages with many big runs (BENCHMARKS.md, "Runs the size of the real job").
# Usage: scripts/bench-scale.sh [BIN] [RUNS] [REQUESTS] [PORT]
# One real run of REQUESTS requests (16 tokens each) with `BIN run` against `BIN sim`, copied
# in SQL until the database holds RUNS such runs (records, checks, charts and all); then times
# the runs list, compare (8 runs), the report and the quality and cost pages on `BIN serve`.
set -euo pipefail
BIN=${1:-target/release/bakeoff}
RUNS=${2:-200}
N=${3:-100000}
PORT=${4:-3996}
SIM_PORT=$((PORT + 1))
DIR=${BENCH_DIR:-$(mktemp -d)}
trap 'kill "${SIM:-}" "${SRV:-}" 2>/dev/null || true; [ -n "${BENCH_DIR:-}" ] || rm -rf "$DIR"' EXIT
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ ! -f "$DIR/b.db" ]; then
  "$BIN" sim --addr "127.0.0.1:$SIM_PORT" --ttft-ms 0 --tpot-ms 0 --max-concurrency 4096 >"$DIR/sim.log" 2>&1 &
  SIM=$!
  until curl -s -o /dev/null "http://127.0.0.1:$SIM_PORT/health"; do sleep 0.2; done
  "$BIN" run --endpoint "http://127.0.0.1:$SIM_PORT" --model sim-gemma-3-4b \
    --dataset "$ROOT/../shared/data/synthetic_100.jsonl" --requests "$N" --concurrency 256 --max-tokens 16 \
    --db "$DIR/b.db" --json >/dev/null 2>"$DIR/run.err"
  kill "$SIM"; SIM=
  python3 - "$DIR/b.db" "$RUNS" <<'PY'
import sqlite3, sys, time
db, runs = sys.argv[1], int(sys.argv[2])
c = sqlite3.connect(db)
cols = lambda t: [r[1] for r in c.execute(f"PRAGMA table_info({t})")]
run_cols = [x for x in cols("runs") if x != "id"]
t = time.time()
for k in range(2, runs + 1):
    cur = c.execute(f"INSERT INTO runs ({','.join(run_cols)}) SELECT {','.join(run_cols)} FROM runs WHERE id = 1")
    new = cur.lastrowid
    c.execute("UPDATE runs SET name = name || ' copy ' || ? WHERE id = ?", (k, new))
    for table in ["request_records", "checks", "run_charts", "check_counts", "server_metrics"]:
        cs = [x for x in cols(table) if x != "run_id"]
        c.execute(f"INSERT INTO {table} (run_id, {','.join(cs)}) SELECT ?, {','.join(cs)} FROM {table} WHERE run_id = 1", (new,))
    c.commit()
print(f"copied to {runs} runs in {time.time() - t:.0f} s")
PY
fi
ls -la "$DIR/b.db" | awk '{print "database", $5, "bytes"}'
echo 'bench password 123' | "$BIN" user add bench --role admin --db "$DIR/b.db" >/dev/null 2>&1 || true
"$BIN" serve --addr "127.0.0.1:$PORT" --db "$DIR/b.db" --no-sim --site-root "$ROOT/target/site" >"$DIR/serve.log" 2>&1 &
SRV=$!
until curl -s -o /dev/null "http://127.0.0.1:$PORT/login"; do sleep 0.2; done
TOKEN=$(curl -s -X POST "http://127.0.0.1:$PORT/api/token" -H 'content-type: application/json' \
  -d '{"name":"bench","password":"bench password 123"}' | sed 's/.*"token":"\([^"]*\)".*/\1/')
H="Authorization: Bearer $TOKEN"
compare="run=1&run=2&run=3&run=4&run=5&run=6&run=7&run=8"
for path in / /api/runs "/compare?$compare" /report /api/report /quality /costs /runs/1; do
  for i in 1 2 3; do
    curl -s -H "$H" -o /dev/null -w "$path: %{http_code} %{time_total} s %{size_download} bytes\n" "http://127.0.0.1:$PORT$path"
  done
done
