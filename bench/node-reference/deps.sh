#!/usr/bin/env bash
# Installs the pinned Node reference server into a cache once; prints the directory.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$HERE/../../scripts/npm-deps.sh" "$HERE" node-reference 'node -e "import(\"@durable-streams/server\")"'
