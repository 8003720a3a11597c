#!/usr/bin/env bash
# The front end's weight (BENCHMARKS.md, "Bundle"): the bundle's files raw, gzip -9 and brotli 11,
# then what Chromium transfers for a first load of the runs list and of a run page with a cold
# cache, and for the next loads (the bundle from the cache).
# Usage: scripts/bench-bundle.sh [BIN] [SITE]   (default: the release build scripts/run.sh makes)
# REQUESTS=100000 scripts/bench-bundle.sh: the run page measured is that of a run of that many
# requests (made first by `bakeoff run` against a zero-latency `bakeoff sim`; 100,000 take about
# a minute), for the run page's time to interactive at the size of the real job.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BIN=${1:-target/release/bakeoff}
SITE=${2:-target/site}
DIR=$(mktemp -d)
trap 'kill "${PID:-}" "${SIMPID:-}" 2>/dev/null || true; wait "${PID:-}" 2>/dev/null || true; rm -rf "$DIR"' EXIT

echo "== files in $SITE/pkg (bytes: raw, gzip -9, brotli 11; .br/.gz beside them: as served)"
node - "$SITE/pkg" <<'JS'
const { brotliCompressSync, gzipSync, constants } = require("node:zlib");
const fs = require("node:fs"), path = require("node:path");
const dir = process.argv[2];
const total = [0, 0, 0];
for (const f of fs.readdirSync(dir).sort()) {
  if (!/\.(wasm|js|css)$/.test(f)) continue;
  const b = fs.readFileSync(path.join(dir, f));
  const gz = gzipSync(b, { level: 9 }).length;
  const br = brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
  const served = ["br", "gz"].filter((e) => fs.existsSync(path.join(dir, `${f}.${e}`))).join("+") || "none";
  [b.length, gz, br].forEach((n, i) => (total[i] += n));
  console.log(`${f.padEnd(44)} ${String(b.length).padStart(9)} ${String(gz).padStart(8)} ${String(br).padStart(8)}  precompressed: ${served}`);
}
console.log(`${"total".padEnd(44)} ${String(total[0]).padStart(9)} ${String(total[1]).padStart(8)} ${String(total[2]).padStart(8)}`);
JS

REQUESTS=${REQUESTS:-50}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
if [ "$REQUESTS" -gt 50 ]; then
  SIMPORT=$(free_port)
  "$BIN" sim --addr "127.0.0.1:$SIMPORT" --ttft-ms 0 --tpot-ms 0 --max-concurrency 4096 >"$DIR/sim.log" 2>&1 &
  SIMPID=$!
  until curl -s -o /dev/null "http://127.0.0.1:$SIMPORT/health"; do sleep 0.2; done
  echo "== a run of $REQUESTS requests (bakeoff run, concurrency 256, max tokens 64)"
  /usr/bin/time -f "   %e s" "$BIN" run --endpoint "http://127.0.0.1:$SIMPORT" --model sim-llama-3.2-1b \
    --dataset "$ROOT/app/tests/fixtures/synthetic_100.jsonl" --requests "$REQUESTS" --concurrency 256 \
    --max-tokens 64 --db "$DIR/b.db" >/dev/null 2>"$DIR/run.log"
  kill "$SIMPID"; wait "$SIMPID" 2>/dev/null || true
fi
PORT=$(free_port)
printf '%s\n' 'bench password 123' | "$BIN" user add bench --role admin --db "$DIR/b.db" >/dev/null 2>&1
"$BIN" serve --addr "127.0.0.1:$PORT" --sim-addr 127.0.0.1:0 --db "$DIR/b.db" --site-root "$SITE" >"$DIR/serve.log" 2>&1 &
PID=$!
until curl -s -o /dev/null "http://127.0.0.1:$PORT/login"; do sleep 0.2; done
TOKEN=$(curl -s -X POST "http://127.0.0.1:$PORT/api/token" -H 'content-type: application/json' \
  -d '{"name":"bench","password":"bench password 123"}' | sed 's/.*"token":"\([^"]*\)".*/\1/')
# One finished run on the built-in simulator, so the run page has charts and tables.
[ "$REQUESTS" -gt 50 ] || curl -s -o /dev/null -X POST "http://127.0.0.1:$PORT/api/runs" -H "authorization: Bearer $TOKEN" \
  -H 'content-type: application/json' \
  -d '{"endpoint_id":"1","dataset_id":"1","model":"sim-llama-3.2-1b","requests":"50","concurrency":"8"}'
until curl -s -H "authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/runs/1" | grep -q '"completed"'; do sleep 0.5; done
echo "== run 1: $(curl -s -H "authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/runs/1" | grep -o '"total_requests":[0-9]*')"

echo "== Chromium, cold cache then warm (bytes on the wire: headers + encoded bodies)"
BASE="http://127.0.0.1:$PORT" node - <<'JS'
const { createRequire } = require("node:module");
const { chromium } = createRequire(process.cwd() + "/end2end/package.json")("@playwright/test");
(async () => {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic"] });
  const context = await browser.newContext({ baseURL: process.env.BASE });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  let log = new Map();
  cdp.on("Network.requestWillBeSent", (e) => log.set(e.requestId, { url: e.request.url, bytes: 0, cached: false }));
  cdp.on("Network.responseReceived", (e) => {
    const r = log.get(e.requestId);
    if (r) { r.encoding = e.response.headers["content-encoding"] ?? e.response.headers["Content-Encoding"] ?? "";
      r.cached = r.cached || e.response.fromDiskCache || e.response.fromMemoryCache; r.status = e.response.status; }
  });
  cdp.on("Network.requestServedFromCache", (e) => { const r = log.get(e.requestId); if (r) r.cached = true; });
  cdp.on("Network.loadingFinished", (e) => { const r = log.get(e.requestId); if (r) r.bytes = e.encodedDataLength; });
  const hydrated = () => page.waitForSelector("body[data-hydrated=true]", { timeout: 60_000 });
  async function load(label, go) {
    log = new Map();
    const t0 = Date.now();
    await go();
    await hydrated();
    const ms = Date.now() - t0;
    await page.waitForTimeout(300);
    let total = 0;
    const rows = [];
    for (const r of log.values()) {
      if (r.url.includes("/events")) continue; // the live stream stays open
      total += r.bytes;
      rows.push(`    ${String(r.bytes).padStart(8)} ${r.cached ? "cache" : String(r.status ?? "").padEnd(5)} ${(r.encoding || "-").padEnd(5)} ${new URL(r.url).pathname}`);
    }
    console.log(`${label}: ${total} bytes transferred, hydrated after ${ms} ms`);
    console.log(rows.join("\n"));
  }
  // Log in (not counted), then forget the cache: the first load of a page is a cold one.
  await page.goto("/login");
  await hydrated();
  await page.getByLabel("User name").fill("bench");
  await page.getByLabel("Password").fill("bench password 123");
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL((u) => !u.pathname.startsWith("/login"));
  for (const [name, path] of [["runs list", "/"], ["run page", "/runs/1"]]) {
    await cdp.send("Network.clearBrowserCache");
    await load(`${name} ${path}, cold cache`, () => page.goto(path));
    await load(`${name} ${path}, reload`, () => page.reload());
  }
  await load("runs list /, new navigation with a warm cache", () => page.goto("/"));
  await browser.close();
})().catch((e) => { console.error(e); process.exit(1); });
JS
