#!/usr/bin/env bash
# Build Bakeoff (release) and serve it on http://127.0.0.1:3000 with the built-in simulator.
# Extra arguments go to `bakeoff serve` (e.g. --db PATH, --addr HOST:PORT, --no-sim).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
source scripts/setup.sh
echo "[run] building (release; the first build takes ~10 min on 2 cores)" >&2
cargo leptos build --release
exec target/release/bakeoff serve --site-root target/site "$@"
