#!/usr/bin/env bash
# Checks that the layers' dependencies point one way (cmake/layers.cmake).
#
#   tests/layers/check.sh BUILD_DIR CC
#
# 1. Calls: every ss_ symbol a layer's archive uses is defined by the layer
#    itself or by a layer below it (nm), so no call goes upward or sideways.
# 2. Names: every global symbol a layer defines starts with ss_ (symbols the
#    compiler makes itself, such as ASan's __odr_asan.*, start with __).
# 3. Includes: no source under src/ reaches another folder with "../".
# 4. The include trees bite: a protocol source that includes the handler's
#    header does not compile against the protocol's tree, and does against
#    the handler's (the control).
# Prints one line per violation and exits 1 if there is any.
set -uo pipefail
BUILD="${1:?usage: check.sh BUILD_DIR CC}"
CC="${2:?usage: check.sh BUILD_DIR CC}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LAYERS="$BUILD/layers.txt"
[ -r "$LAYERS" ] || { echo "check.sh: $LAYERS missing (configure first)"; exit 2; }

fail=0
declare -A archive
while IFS='|' read -r name lib below; do
  archive[$name]="$lib"
done <"$LAYERS"

defined() { nm --defined-only -g "$1" 2>/dev/null | awk 'NF == 3 && $2 ~ /[TDBRCGSV]/ {print $3}'; }

while IFS='|' read -r name lib below; do
  [ -r "$lib" ] || { echo "check.sh: $lib not built"; exit 2; }
  allowed="$(for l in "$name" $below; do defined "${archive[$l]}"; done | sort -u)"
  used="$(nm -u "$lib" | awk '{print $NF}' | grep '^ss_' | sort -u)"
  for sym in $(comm -23 <(echo "$used") <(echo "$allowed")); do
    owner=""
    for l in "${!archive[@]}"; do
      if defined "${archive[$l]}" | grep -qx "$sym"; then owner="$l"; fi
    done
    echo "layer $name calls $sym, defined by ${owner:-no layer}, which is not below it (allowed: ${below:-none})"
    fail=1
  done
  for sym in $(defined "$lib" | grep -v -e '^ss_' -e '^__'); do
    echo "layer $name defines the global symbol $sym without the ss_ prefix"
    fail=1
  done
done <"$LAYERS"

while IFS= read -r line; do
  echo "include that leaves its folder: $line"
  fail=1
done < <(grep -rn '#include "\.\./' "$ROOT/src" || true)

probe="$(mktemp --suffix=.c)"
trap 'rm -f "$probe"' EXIT
printf '#include "streamsy/handler.h"\nint ss_probe;\n' >"$probe"
if out="$("$CC" -fsyntax-only -I "$BUILD/layers/protocol" "$probe" 2>&1)"; then
  echo "the protocol's include tree lets a protocol source include streamsy/handler.h"
  fail=1
elif ! grep -q 'streamsy/handler.h' <<<"$out"; then
  echo "the upward-include probe failed for another reason: $out"
  fail=1
fi
if ! out="$("$CC" -fsyntax-only -I "$BUILD/layers/handler" "$probe" 2>&1)"; then
  echo "control failed: the handler's own tree cannot include streamsy/handler.h: $out"
  fail=1
fi

[ "$fail" -eq 0 ] && echo "layers: $(wc -l <"$LAYERS") layers, every dependency points down"
exit "$fail"
