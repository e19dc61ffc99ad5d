#!/usr/bin/env bash
# Installs a folder's pinned npm packages (its package.json + package-lock.json)
# into a cache directory once, then prints that directory.
#
#   scripts/npm-deps.sh DIR NAME [CHECK]
#
#   DIR    the folder holding package.json and package-lock.json
#   NAME   the cache's name: ${STREAMSY_NPM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/streamsy}/NAME-<hash>
#   CHECK  a shell command run in the installed directory; the install only
#          counts when it succeeds (e.g. that a native prebuild loads)
#
# The directory is keyed by a hash of the two files, so bumping a pin gives a
# fresh install and leaves the old one alone. After the first install nothing
# touches the network again. Concurrent first installs are serialised.
set -euo pipefail

DIR="$(cd "${1:?usage: npm-deps.sh DIR NAME [CHECK]}" && pwd)"
NAME="${2:?usage: npm-deps.sh DIR NAME [CHECK]}"
CHECK="${3:-true}"
CACHE_ROOT="${STREAMSY_NPM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/streamsy}"
HASH="$(cat "$DIR/package.json" "$DIR/package-lock.json" | sha256sum | cut -c1-12)"
DEPS="$CACHE_ROOT/$NAME-$HASH"

if [ ! -f "$DEPS/.installed" ]; then
  mkdir -p "$CACHE_ROOT"
  (
    flock 9
    if [ ! -f "$DEPS/.installed" ]; then
      echo "[npm-deps] installing $NAME's pinned packages into $DEPS (one-time)" >&2
      rm -rf "$DEPS"
      mkdir -p "$DEPS"
      cp "$DIR/package.json" "$DIR/package-lock.json" "$DEPS/"
      (cd "$DEPS" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error 1>&2)
      (cd "$DEPS" && eval "$CHECK") >&2
      touch "$DEPS/.installed"
    fi
  ) 9>"$CACHE_ROOT/.install-$NAME.lock"
fi

echo "$DEPS"
