#!/usr/bin/env bash
# The official client conformance suite (@durable-streams/client-conformance-tests,
# not published on npm) against build/streamsy-client-adapter, from a local copy
# of the upstream repository. Not part of `make test` (the suite is not ours to
# vendor); docs/client.md has the numbers and how to get the copy.
#
#   tests/client/conformance.sh UPSTREAM_DIR [ADAPTER] [runner flags, e.g. --suite consumer]
#
# UPSTREAM_DIR is a checkout of github.com/durable-streams/durable-streams with
# `pnpm install --filter '@durable-streams/client-conformance-tests...'` done and
# packages/client, packages/state and packages/server built (`pnpm build`).
set -euo pipefail
UPSTREAM="${1:?usage: conformance.sh UPSTREAM_DIR [ADAPTER] [flags]}"
shift
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ADAPTER="${1:-$ROOT/build/streamsy-client-adapter}"
[ $# -gt 0 ] && shift
[ -x "$ADAPTER" ] || { echo "conformance.sh: no adapter at $ADAPTER (make first)" >&2; exit 2; }
cd "$UPSTREAM/packages/client-conformance-tests"
exec pnpm tsx src/cli.ts --run "$(cd "$(dirname "$ADAPTER")" && pwd)/$(basename "$ADAPTER")" "$@"
