#!/bin/sh
# What the browser tests need besides Python, checked by `make test` before pytest starts.
# Usage: sh tests/prerequisites.sh CHROMIUM AXE_SCRIPT
#
# - Debian's Chromium at CHROMIUM (never a downloaded browser). Missing at /usr/bin/chromium,
#   it is installed here with `apt-get install chromium` when this runs as root or with
#   passwordless sudo. Another path is the caller's own build: it is only checked.
# - axe-core at AXE_SCRIPT, which the Makefile's `npm ci` installs. npm itself is not
#   installed here: Node.js comes from Debian, NodeSource or nvm, and Debian's npm package
#   conflicts with NodeSource's nodejs.
#
# Whatever is still missing stops `make test` with one line naming it and the command that
# installs it; nothing is printed when all is there.
set -eu
chromium=$1
axe=$2

if [ "$(id -u)" = 0 ]; then as_root=""; else as_root="sudo "; fi

if [ ! -x "$chromium" ] && [ "$chromium" = /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1 \
   && { [ -z "$as_root" ] || sudo -n true 2>/dev/null; }; then
  echo "make test: installing Debian's chromium for the browser tests (${as_root}apt-get install chromium)"
  { ${as_root}env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
    && ${as_root}env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || true
fi
if [ ! -x "$chromium" ]; then
  echo "make test: Chromium is missing at $chromium (the browser tests use Debian's package, never a" \
       "downloaded browser): install it with \`${as_root}apt-get install chromium\`, or set CHROMIUM=/path/to/chromium" >&2
  exit 1
fi

if [ ! -f "$axe" ]; then
  if command -v npm >/dev/null 2>&1; then
    fix="run \`npm ci\`"
  else
    fix="install Node.js and npm (on Debian: \`${as_root}apt-get install npm\`), then make test again"
  fi
  echo "make test: axe-core is missing at $axe (the browser tests' accessibility checks): $fix" >&2
  exit 1
fi
