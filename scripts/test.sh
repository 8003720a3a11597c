#!/usr/bin/env bash
# Every test: unit, database, worker/client against the simulator, HTTP, and end-to-end in
# Chromium against the real server. CI runs this (.ci/run).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
source scripts/setup.sh --browser

# A clean build needs about 3 GB under target/ (debug, wasm and the site).
avail_kb=$(df -Pk "$ROOT" | awk 'NR==2 {print $4}')
if [ "${avail_kb:-0}" -lt 3500000 ] && [ ! -d target/debug ]; then
  echo "[test] warning: only $((avail_kb / 1024)) MB free on $(df -P "$ROOT" | awk 'NR==2 {print $6}');" \
       "a clean build needs about 3 GB. Free some space if the build fails with 'No space left on device'." >&2
fi

echo "[test] cargo test (unit, db, worker, HTTP)" >&2
cargo test --workspace

# The database suite again on Postgres (a throwaway server from Debian's package): every db/
# query test (reviewers, trash, db check's queries included), workers and scale-out across
# processes, `bakeoff db check` on a Postgres URL, the trash, reviewer and data-rule (spend cap,
# internal only) server tests, and the copy from SQLite.
pgdir=$(mktemp -d /tmp/bakeoff-pg.XXXXXX)
chmod 755 "$pgdir"
pgport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "[test] the database tests on Postgres (port $pgport)" >&2
pgurl=$(scripts/pg.sh start "$pgdir/cluster" "$pgport")
stop_pg() { scripts/pg.sh stop "$pgdir/cluster" >/dev/null 2>&1 || true; rm -rf "$pgdir"; }
trap stop_pg EXIT
BAKEOFF_TEST_PG="$pgurl" cargo test -p app --features ssr --lib db::
BAKEOFF_TEST_PG="$pgurl" cargo test -p app --features ssr --lib db::progress -- --ignored
BAKEOFF_TEST_PG="$pgurl" cargo test -p server --test workers --test scale_out --test progress --test db_check --test trash --test reviewers --test data_rules --test audit
BAKEOFF_TEST_PG="$pgurl" cargo test -p server --test db_copy -- --ignored
stop_pg
trap - EXIT

echo "[test] building the site for the browser tests" >&2
# The tests' own site (debug), apart from the release site scripts/run.sh serves at target/site.
site=target/e2e-site
LEPTOS_SITE_ROOT=$site LEPTOS_HASH_FILE_NAME="$ROOT/$site/hash.txt" cargo leptos build
node scripts/precompress.mjs "$site"

work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
sim_port=$(free_port)
# The browser tests log in as these (created before the first start, so no random admin).
export E2E_ADMIN=e2e-admin E2E_REVIEWER=e2e-reviewer E2E_VIEWER=e2e-viewer E2E_PASSWORD='e2e password 123'
for u in "$E2E_ADMIN admin" "$E2E_REVIEWER reviewer" "$E2E_VIEWER viewer"; do
  set -- $u
  printf '%s\n' "$E2E_PASSWORD" | target/debug/bakeoff user add "$1" --role "$2" --db "$work/e2e.db" 2>/dev/null
done
target/debug/bakeoff serve --addr "127.0.0.1:$port" --sim-addr "127.0.0.1:$sim_port" --db "$work/e2e.db" \
  --site-root "$site" --batch-poll-s 1 >"$work/server.log" 2>&1 &
server=$!
cleanup() { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

echo "[test] end-to-end (Playwright + Chromium) against http://127.0.0.1:$port" >&2
if ! (cd end2end && BASE_URL="http://127.0.0.1:$port" npx playwright test); then
  echo "[test] server log:" >&2
  tail -n 50 "$work/server.log" >&2
  exit 1
fi
echo "[test] all passed" >&2
