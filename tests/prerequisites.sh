#!/bin/sh
# What the browser and deployment tests need besides Python, checked by `make test` before
# pytest starts.
# Usage: sh tests/prerequisites.sh CHROMIUM AXE_SCRIPT NGINX
#
# - Debian's Chromium at CHROMIUM (never a downloaded browser). Missing at /usr/bin/chromium,
#   it is installed here with `apt-get install chromium` when this runs as root or with
#   passwordless sudo. Another path is the caller's own build: it is only checked.
# - axe-core at AXE_SCRIPT, which the Makefile's `npm ci` installs. npm itself is not
#   installed here: Node.js comes from Debian, NodeSource or nvm, and Debian's npm package
#   conflicts with NodeSource's nodejs.
# - Debian's nginx at NGINX, which the deployment tests run in front of `mailferry web --proxy`
#   with a configuration of their own. Missing at /usr/sbin/nginx, it is installed like
#   Chromium (`apt-get install nginx`; on a host with systemd the package also starts its
#   default site on port 80). Another path is only checked.
#
# Whatever is still missing stops `make test` with one line naming it and the command that
# installs it; nothing is printed when all is there.
set -eu
chromium=$1
axe=$2
nginx=$3

if [ "$(id -u)" = 0 ]; then as_root=""; else as_root="sudo "; fi

# install_when_missing PATH DEBIAN_PATH PACKAGE TESTS: `apt-get install PACKAGE` when PATH is
# the package's own (DEBIAN_PATH), is missing, and this runs as root or with passwordless sudo.
install_when_missing() {
  if [ ! -x "$1" ] && [ "$1" = "$2" ] && command -v apt-get >/dev/null 2>&1 \
     && { [ -z "$as_root" ] || sudo -n true 2>/dev/null; }; then
    echo "make test: installing Debian's $3 for the $4 (${as_root}apt-get install $3)"
    { ${as_root}env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
      && ${as_root}env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$3" >/dev/null; } || true
  fi
}

install_when_missing "$chromium" /usr/bin/chromium chromium "browser tests"
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

install_when_missing "$nginx" /usr/sbin/nginx nginx "deployment tests"
if [ ! -x "$nginx" ]; then
  echo "make test: nginx is missing at $nginx (the deployment tests run Debian's nginx in front of" \
       "mailferry web --proxy): install it with \`${as_root}apt-get install nginx\`, or set NGINX=/path/to/nginx" >&2
  exit 1
fi
