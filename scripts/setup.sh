#!/usr/bin/env bash
# Installs what Streamsy needs on Debian 12 (bookworm), and only what is missing.
#
#   scripts/setup.sh [--check-or-install]   (`make` runs this; there is no other mode)
#
# 1. Debian packages: the toolchain (with clang-14 + wasi-libc for the Durable
#    Object module), the C libraries, curl, sqlite3, wrk and h2load.
#    Checked with dpkg-query (offline, fast); `apt-get update` runs once, and
#    only when something has to be installed. Needs root: uses sudo otherwise.
# 2. Node.js >= 20.19 with npm (vitest 4, used by the conformance suite, needs it).
# 3. The pinned npm packages: the conformance suite (tests/conformance/deps.sh)
#    and workerd (workerd/deps.sh), each `npm ci` into a cache dir once.
# Silent when everything is already there.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODE="${1:---check-or-install}"
case "$MODE" in
  --check-or-install) ;;
  -h | --help) awk 'NR>1 && /^#/ {sub(/^# ?/, ""); print; next} NR>1 {exit}' "$0"; exit 0 ;;
  *) echo "setup.sh: unknown option '$MODE' (try --help)" >&2; exit 2 ;;
esac

NODE_MIN_MAJOR=20 NODE_MIN_MINOR=19

PACKAGES=(
  build-essential cmake ninja-build pkg-config clang-format-14
  clang-14 lld-14 llvm-14 wasi-libc libclang-rt-14-dev-wasm32 libclang-rt-14-dev
  libh2o-evloop-dev libssl-dev libcriterion-dev libjansson-dev libsqlite3-dev libpcre2-dev libcurl4-openssl-dev
  curl jq sqlite3 wrk nghttp2-client json-schema-test-suite python3-prometheus-client
)

die() { echo "setup.sh: error: $*" >&2; exit 1; }

# --- 1. which Debian packages are missing -------------------------------------
missing=()
installed="$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${PACKAGES[@]}" 2>/dev/null || true)"
for p in "${PACKAGES[@]}"; do
  grep -qE "^$p ii" <<<"$installed" || missing+=("$p")
done
# Node.js: any node/npm on PATH counts (e.g. NodeSource's nodejs, which bundles
# npm and conflicts with Debian's npm package); otherwise Debian's.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -gt 0 ]; then
  [ -r /etc/debian_version ] && command -v apt-get >/dev/null 2>&1 ||
    die "missing: ${missing[*]}; this script installs with apt-get on Debian 12 only. Install them yourself."
  SUDO=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "missing: ${missing[*]}; run as root (or install sudo) to install them"
    SUDO=(sudo)
  fi
  echo "setup.sh: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -qq </dev/null || die "apt-get update failed"
  "${SUDO[@]}" apt-get install -y -qq "${missing[@]}" </dev/null >/dev/null ||
    die "apt-get install ${missing[*]} failed (see the messages above)"
  for p in "${missing[@]}"; do
    case "$p" in
      nodejs) command -v node >/dev/null 2>&1 || die "nodejs installed but no 'node' on PATH" ;;
      npm) command -v npm >/dev/null 2>&1 || die "npm installed but no 'npm' on PATH" ;;
      *) dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' || die "$p did not install" ;;
    esac
  done
fi

# --- 2. Node.js version ----------------------------------------------------------
NODE_VERSION="$(node --version 2>/dev/null || true)" # e.g. v20.20.2
if [[ "$NODE_VERSION" =~ ^v([0-9]+)\.([0-9]+) ]]; then
  major=${BASH_REMATCH[1]} minor=${BASH_REMATCH[2]}
  if [ "$major" -lt $NODE_MIN_MAJOR ] || { [ "$major" -eq $NODE_MIN_MAJOR ] && [ "$minor" -lt $NODE_MIN_MINOR ]; }; then
    die "Node.js $NODE_VERSION ($(command -v node)) is too old: the conformance suite runs on vitest 4, which needs Node >= $NODE_MIN_MAJOR.$NODE_MIN_MINOR.
  Debian 12's own nodejs package is 18.x. Install Node >= $NODE_MIN_MAJOR.$NODE_MIN_MINOR (for example NodeSource's nodejs 20.x/22.x
  packages, or an official nodejs.org build early on PATH), then run this script again."
  fi
else
  die "cannot tell the Node.js version ('node --version' printed '$NODE_VERSION')"
fi

# --- 3. the conformance suite's pinned npm packages ---------------------------------
"$ROOT/tests/conformance/deps.sh" >/dev/null </dev/null ||
  die "installing the conformance suite's npm packages failed (tests/conformance/deps.sh: npm ci; needs the npm registry the first time)"
"$ROOT/workerd/deps.sh" >/dev/null </dev/null ||
  die "installing the pinned workerd failed (workerd/deps.sh: npm ci; needs the npm registry the first time)"
