#!/usr/bin/env bash
# Build Bakeoff (release) and serve it on http://127.0.0.1:3000 with the built-in simulator.
# Extra arguments go to `bakeoff serve` (e.g. --db PATH, --addr HOST:PORT, --no-sim).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
source scripts/setup.sh
echo "[run] building (release; the first build takes ~10 min on 2 cores)" >&2
# Hashed file names (cargo-leptos hash-files); the hash list goes into the site it describes.
LEPTOS_HASH_FILE_NAME="$ROOT/target/site/hash.txt" cargo leptos build --release
# .br and .gz copies of the bundle, served as they are (compressed once, here).
node scripts/precompress.mjs target/site
exec target/release/bakeoff serve --site-root target/site "$@"
