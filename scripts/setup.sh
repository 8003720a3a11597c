#!/usr/bin/env bash
# Install what a fresh machine lacks to build and test Bakeoff. Idempotent: each tool is skipped
# when the pinned version is already there. Sourced by run.sh and test.sh.
#   setup.sh [--browser]   --browser: also Debian's Chromium and the Playwright npm package
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CARGO_LEPTOS_VERSION=0.3.11
# Must equal the wasm-bindgen crate in Cargo.lock (pinned with "=" in Cargo.toml).
WASM_BINDGEN_VERSION=$(grep -A1 '^name = "wasm-bindgen"$' "$ROOT/Cargo.lock" | sed -n 's/^version = "\(.*\)"$/\1/p')

log() { echo "[setup] $*" >&2; }
export PATH="$HOME/.cargo/bin:$PATH"

want_browser=0
for a in "$@"; do [[ "$a" == "--browser" ]] && want_browser=1; done

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# Both tools are built in debug mode: about a third of the release build time, and each build
# of the project is only seconds slower (measured in ../shared/tools/leptos-toolchain).
pids=()
if [[ "$(cargo leptos --version 2>/dev/null || true)" != "cargo-leptos $CARGO_LEPTOS_VERSION" ]]; then
  log "installing cargo-leptos $CARGO_LEPTOS_VERSION (debug build, ~10 min on 2 cores)"
  # --ignore-rust-version: one locked dependency declares rustc 1.96 but builds on 1.95.
  # no_downloads: a missing tool is an error, never a download from GitHub.
  CARGO_PROFILE_DEV_DEBUG=0 cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked \
    --ignore-rust-version --debug --features no_downloads &
  pids+=($!)
fi
if [[ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]]; then
  log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (debug build)"
  # Without --locked: the registry mirror lacks one crate version of its lock file.
  CARGO_PROFILE_DEV_DEBUG=0 cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --debug --force &
  pids+=($!)
fi
for p in "${pids[@]}"; do wait "$p"; done

# npm's binaryen (wasm-opt 132) for release builds, first on PATH.
if [[ ! -x "$ROOT/scripts/tools/node_modules/.bin/wasm-opt" ]]; then
  log "installing npm build tools (binaryen)"
  (cd "$ROOT/scripts/tools" && npm ci --no-audit --no-fund --loglevel=error)
fi
export PATH="$ROOT/scripts/tools/node_modules/.bin:$PATH"

# Debian's nginx-light: the tests put it in front of the simulator (server/tests/nginx.rs), as
# teams put a gateway in front of vLLM. Run by the tests as a plain process, never as a service.
# Debian's postgresql: the database suite runs on Postgres too (scripts/pg.sh starts a throwaway
# server in a temp dir; the system one the package starts is not used).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  log "installing Debian's postgresql (the database tests run on Postgres too)"
  SUDO=""; [[ $(id -u) != 0 ]] && SUDO=sudo
  $SUDO apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
  if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now postgresql >/dev/null 2>&1 || true; fi
fi

if ! command -v nginx >/dev/null 2>&1 && [[ ! -x /usr/sbin/nginx ]]; then
  log "installing Debian's nginx-light (for the gateway tests)"
  SUDO=""; [[ $(id -u) != 0 ]] && SUDO=sudo
  $SUDO apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nginx-light >/dev/null
  # The package starts a system nginx on port 80 where services run: the tests do not use it.
  if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now nginx >/dev/null 2>&1 || true; fi
fi

if [[ $want_browser == 1 ]]; then
  if [[ ! -x /usr/bin/chromium ]]; then
    log "installing Debian's Chromium"
    SUDO=""; [[ $(id -u) != 0 ]] && SUDO=sudo
    $SUDO apt-get update -qq || true
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
  fi
  if [[ ! -d "$ROOT/end2end/node_modules/@playwright/test" ]]; then
    log "installing Playwright (npm; its browser download is skipped)"
    (cd "$ROOT/end2end" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
