#!/usr/bin/env bash
# The C sources follow .clang-format (clang-format 14): lists every file that
# does not and exits 1. `make format` rewrites them.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT" || exit 2
CF="$(command -v clang-format-14 || command -v clang-format)" || { echo "clang-format not installed (scripts/setup.sh)"; exit 2; }
bad=0
while IFS= read -r f; do
  if ! "$CF" --dry-run --Werror "$f" >/dev/null 2>&1; then
    echo "not formatted: $f (make format)"
    bad=1
  fi
done < <(git ls-files --cached --others --exclude-standard '*.c' '*.h' 2>/dev/null || find src include tests examples bench -name '*.[ch]')
[ "$bad" -eq 0 ] && echo "format: every C file follows .clang-format"
exit "$bad"
