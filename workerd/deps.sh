#!/usr/bin/env bash
# Ensure the pinned workerd (package.json + package-lock.json in this
# directory) is installed in a cache directory; print the path of the
# workerd binary itself (the platform package's ELF, which needs no Node).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEPS="$("$HERE/../scripts/npm-deps.sh" "$HERE" workerd \
  'node_modules/@cloudflare/workerd-linux-64/bin/workerd --version >/dev/null')"
echo "$DEPS/node_modules/@cloudflare/workerd-linux-64/bin/workerd"
