#!/usr/bin/env bash
# The installed library, as another program sees it:
#   1. make install (cmake --install) into a scratch prefix, with DESTDIR;
#   2. the shared library's soname, and that it exports public names only;
#   3. the examples built out of tree through pkg-config, and run (the client
#      example against the installed server);
#   4. the examples built by a separate CMake project through
#      find_package(streamsy), on the shared and the static library, and run;
#   5. a C++ program through the headers (extern "C") checking ss_version().
#
#   tests/install/install-test.sh BUILD_DIR
set -uo pipefail
BUILD="${1:?usage: install-test.sh BUILD_DIR}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/streamsy-install.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
FAIL=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; FAIL=1; }
CC="${CC:-cc}"
# A sanitizer build's library needs its consumers built the same way.
if grep -q '^SANITIZE:BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null; then
  XFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer"
else
  XFLAGS=""
fi

PREFIX=/opt/streamsy-test
if DESTDIR="$WORK/root" cmake --install "$BUILD" --prefix "$PREFIX" >"$WORK/install.log" 2>&1; then
  ok "cmake --install with DESTDIR"
else
  bad "cmake --install"; cat "$WORK/install.log"; exit 1
fi
P="$WORK/root$PREFIX"
LIBDIR="$(dirname "$(find "$P" -name 'libstreamsy.so' | head -n 1)")"
[ -f "$P/include/streamsy/streamsy.h" ] && [ -f "$P/include/streamsy/version.h" ] && ok "headers installed" || bad "headers"
[ -x "$P/bin/streamsy" ] && ok "server installed" || bad "server binary"
[ -f "$LIBDIR/libstreamsy.a" ] && ok "static library installed" || bad "static library"
soname="$(readelf -d "$LIBDIR/libstreamsy.so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')"
[[ "$soname" =~ ^libstreamsy\.so\.[0-9]+(\.[0-9]+)?$ ]] && [ -e "$LIBDIR/$soname" ] && ok "soname $soname" || bad "soname '$soname'"
leaked="$(nm -D --defined-only "$LIBDIR/libstreamsy.so" | awk '$2 ~ /[TDBR]/ {print $3}' | grep -v '^ss_[a-z]' | head -5)"
[ -z "$leaked" ] && ok "exports public ss_ names only" || bad "exports non-public names: $leaked"

# pkg-config, relocated by DESTDIR: the .pc file finds its prefix itself.
export PKG_CONFIG_PATH="$LIBDIR/pkgconfig"
flags="$(pkg-config --cflags --libs streamsy)" || bad "pkg-config streamsy"
for ex in json_cas_counter state_todos; do
  # shellcheck disable=SC2086 # flags and XFLAGS are lists
  if $CC -std=c17 -Wall -Wextra -Werror $XFLAGS -o "$WORK/$ex" "$ROOT/examples/$ex.c" $flags >"$WORK/cc.log" 2>&1 &&
     LD_LIBRARY_PATH="$LIBDIR" "$WORK/$ex" >"$WORK/$ex.out" 2>&1; then
    ok "$ex built with pkg-config and run"
  else
    bad "$ex with pkg-config"; cat "$WORK/cc.log" "$WORK/$ex.out" 2>/dev/null | tail -20
  fi
done

# The client example through pkg-config, run against the installed server.
# shellcheck disable=SC2086
if $CC -std=c17 -Wall -Wextra -Werror $XFLAGS -o "$WORK/tail_and_append" "$ROOT/examples/client/tail_and_append.c" \
     $flags >"$WORK/cc.log" 2>&1 &&
   LD_LIBRARY_PATH="$LIBDIR" "$ROOT/tests/client/with-server.sh" "$P/bin/streamsy" "$WORK/tail_and_append" \
     >"$WORK/client.out" 2>&1; then
  ok "tail_and_append (the client library) built with pkg-config and run"
else
  bad "tail_and_append with pkg-config"; cat "$WORK/cc.log" "$WORK/client.out" 2>/dev/null | tail -20
fi

# find_package(streamsy)
if cmake -S "$ROOT/tests/install" -B "$WORK/consumer" -G Ninja -DCMAKE_PREFIX_PATH="$P" \
     -DEXAMPLES="$ROOT/examples" -DCMAKE_C_FLAGS="$XFLAGS" -DCMAKE_EXE_LINKER_FLAGS="$XFLAGS" >"$WORK/cmake.log" 2>&1 && cmake --build "$WORK/consumer" >>"$WORK/cmake.log" 2>&1; then
  ok "find_package(streamsy) project configured and built"
  LD_LIBRARY_PATH="$LIBDIR" "$WORK/consumer/json_cas_counter" >/dev/null 2>&1 && ok "json_cas_counter (shared) runs" ||
    bad "json_cas_counter (shared) failed"
  "$WORK/consumer/state_todos_static" >/dev/null 2>&1 && ok "state_todos (static) runs" || bad "state_todos (static) failed"
  ! ldd "$WORK/consumer/state_todos_static" | grep -q libstreamsy && ok "the static build does not load libstreamsy.so" ||
    bad "the static build loads libstreamsy.so"
else
  bad "find_package project"; tail -20 "$WORK/cmake.log"
fi

# C++
# shellcheck disable=SC2086
if c++ -std=c++17 -Wall -Wextra $XFLAGS -o "$WORK/version" "$ROOT/tests/install/version.cpp" $flags >"$WORK/cxx.log" 2>&1 &&
   LD_LIBRARY_PATH="$LIBDIR" "$WORK/version"; then
  ok "C++ through the headers; ss_version() matches STREAMSY_VERSION"
else
  bad "C++ consumer"; cat "$WORK/cxx.log"
fi
exit $FAIL
