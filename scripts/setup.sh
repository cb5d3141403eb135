#!/usr/bin/env bash
# Install promptwitness into ./.venv with its test tools. Idempotent; safe to re-run.
# Usage: bash scripts/setup.sh [--no-browser]
# System needs: Python >= 3.11, git, Node.js + npm (for the real agents under test),
# bubblewrap and libseccomp (the sandbox); installed with apt-get when run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v git >/dev/null 2>&1 || need_apt+=(git)
command -v npm >/dev/null 2>&1 || need_apt+=(nodejs npm)
# the system CA bundle: hermetic mode replaces it inside the sandbox, tests read it
[ -f /etc/ssl/certs/ca-certificates.crt ] || need_apt+=(ca-certificates)
# every sandboxed run is confined by bubblewrap with a seccomp filter built by libseccomp
command -v bwrap >/dev/null 2>&1 || need_apt+=(bubblewrap)
ldconfig -p 2>/dev/null | grep -q 'libseccomp\.so\.2' || need_apt+=(libseccomp2)
# the escape suite runs promptwitness as an unprivileged user with the system's Python
[ -x /usr/bin/python3 ] || need_apt+=(python3)
command -v setpriv >/dev/null 2>&1 || need_apt+=(util-linux)
# discover traces one run with strace, outside the sandbox (promptwitness.discover.trace)
[ -x /usr/bin/strace ] || command -v strace >/dev/null 2>&1 || need_apt+=(strace)
# ... and builds its shims (clock, getenv) with the C compiler (its tests need them)
command -v cc >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1 || need_apt+=(gcc libc6-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ${need_apt[*]} with apt-get" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "setup: please install: ${need_apt[*]}" >&2
    exit 2
  fi
fi

# Headless Chromium renders the HTML reports in tests/integration/test_*html_browser.py
# (a real browser, as the project promises): installed here like the other system needs.
# `setup.sh --no-browser` (the demo) skips it: only the tests need it.
browser=1
[ "${1:-}" = "--no-browser" ] && browser=0
# The store's tests run against a real PostgreSQL server too, which they start
# themselves from the system's binaries (promptwitness.store.pgtemp: a temporary cluster
# on a unix socket); nothing is started here. Like the browser, a test need only.
if [ "$browser" = 1 ] && ! { ls /usr/lib/postgresql/*/bin/initdb || command -v initdb; } >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing postgresql with apt-get (the store's tests start a server)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends postgresql </dev/null >/dev/null
  else
    echo "setup: please install postgresql (the store's tests start a server from it)" >&2
    exit 2
  fi
fi
if [ "$browser" = 1 ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing chromium with apt-get (for the HTML reports' browser tests)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends chromium fonts-dejavu-core </dev/null >/dev/null
  else
    echo "setup: please install chromium (the HTML reports' browser tests need it)" >&2
    exit 2
  fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[dev]" 2>&1 \
  | grep -v "^WARNING: Location" || true
.venv/bin/python -c "import promptwitness, aiohttp, zstandard, pyseccomp, psycopg"

# The shims preloaded into runs (promptwitness.native): the clock shim that pins every
# run's wall clock, and the getenv shim of traced runs. Compiled once into the cache with
# the C compiler. Without one, runs see the real time and native programs' getenv reads
# go untraced (the reports say so).
if command -v cc >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1; then
  .venv/bin/python -m promptwitness.native >/dev/null \
    || echo "setup: a shim did not build (see: .venv/bin/python -m promptwitness.native)" >&2
else
  echo "setup: no C compiler: runs will see the real time, traced runs will not see native programs' getenv reads (install gcc)" >&2
fi
