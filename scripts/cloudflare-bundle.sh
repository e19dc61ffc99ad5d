#!/usr/bin/env bash
# Puts what `wrangler deploy` needs into one directory: the Worker
# (workerd/worker.js), the module (build/wasm/streamsy-do.wasm, built if
# missing) and workerd/wrangler.jsonc.
#
#   scripts/cloudflare-bundle.sh [OUT_DIR]      (default build/cloudflare)
#   cd build/cloudflare && npx wrangler deploy
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${BUILD:-$ROOT/build}"
OUT="${1:-$BUILD/cloudflare}"
case "${1:-}" in -h | --help) awk 'NR>1 && /^#/ {sub(/^# ?/, ""); print; next} NR>1 {exit}' "$0"; exit 0 ;; esac
[ -f "$BUILD/wasm/streamsy-do.wasm" ] || make -C "$ROOT" build BUILD="$BUILD"
mkdir -p "$OUT"
cp "$ROOT/workerd/worker.js" "$ROOT/workerd/wrangler.jsonc" "$BUILD/wasm/streamsy-do.wasm" "$OUT/"
echo "$OUT: worker.js, streamsy-do.wasm, wrangler.jsonc; deploy with: cd $OUT && npx wrangler deploy"
