#!/usr/bin/env bash
# Peak memory of `bakeoff serve` for one upload (BENCHMARKS.md, "Uploads stream").
# Usage: scripts/bench-upload.sh [BIN] [MB] [PORT] [UPLOADS] [dataset|import]
# Generates a MB-sized OpenAI Batch file (~1 KB lines), starts BIN serve on a fresh database,
# posts the file UPLOADS times at once (default 1) with curl, prints VmHWM (peak RSS) idle and after.
set -euo pipefail
BIN=${1:-target/release/bakeoff}
MB=${2:-200}
PORT=${3:-3999}
N=${4:-1}
KIND=${5:-dataset}
DIR=$(mktemp -d)
trap 'kill "${PID:-}" 2>/dev/null || true; rm -rf "$DIR"' EXIT
python3 - "$DIR/data.jsonl" "$MB" "$KIND" <<'PY'
import json, sys
path, mb, kind = sys.argv[1], int(sys.argv[2]), sys.argv[3]
pad, size, n = "x" * 900, 0, 0
with open(path, "w") as f:
    while size < mb * 1024 * 1024:
        if kind == "import":  # an OpenAI Batch output line
            line = json.dumps({"id": f"b{n}", "custom_id": f"r{n}", "response": {"status_code": 200, "body": {
                "model": "m", "choices": [{"index": 0, "message": {"role": "assistant", "content": f"answer {n} {pad}"},
                "finish_reason": "stop"}], "usage": {"prompt_tokens": 50, "completion_tokens": 200}}}, "error": None},
                separators=(",", ":")) + "\n"
        else:
            line = json.dumps({"custom_id": f"r{n}", "method": "POST", "url": "/v1/chat/completions",
                               "body": {"model": "m", "messages": [{"role": "user", "content": f"question {n} {pad}"}],
                                        "max_tokens": 64}}, separators=(",", ":")) + "\n"
        f.write(line); size += len(line); n += 1
PY
echo "file: $(stat -c %s "$DIR/data.jsonl") bytes"
echo 'bench password 123' | "$BIN" user add bench --role admin --db "$DIR/b.db" >/dev/null 2>&1
"$BIN" serve --addr "127.0.0.1:$PORT" --db "$DIR/b.db" --no-sim >"$DIR/serve.log" 2>&1 &
PID=$!
until curl -s -o /dev/null "http://127.0.0.1:$PORT/login"; do sleep 0.2; done
TOKEN=$(curl -s -X POST "http://127.0.0.1:$PORT/api/token" -H 'content-type: application/json' \
  -d '{"name":"bench","password":"bench password 123"}' | sed 's/.*"token":"\([^"]*\)".*/\1/')
echo "idle  $(grep VmHWM /proc/$PID/status)"
START=$(date +%s.%N)
for i in $(seq 1 "$N"); do
  if [ "$KIND" = import ]; then url="http://127.0.0.1:$PORT/api/import?filename=big$i.jsonl"; else url="http://127.0.0.1:$PORT/api/datasets?name=big$i"; fi
  curl -s -w " %{http_code}\n" -X POST -H "Authorization: Bearer $TOKEN" --data-binary "@$DIR/data.jsonl" "$url" &
done
wait $(jobs -p | grep -v "^$PID$")
echo "uploads took $(echo "$(date +%s.%N) - $START" | bc) s"
echo "after $(grep VmHWM /proc/$PID/status)"
