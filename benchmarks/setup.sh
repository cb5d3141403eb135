#!/usr/bin/env bash
# Install the benchmark's outside tools into their own venv, benchmarks/.venv-mitm
# (gitignored), so that their pinned dependencies never touch the project venv:
#   mitmproxy  the comparison baseline (mitmdump in reverse mode)
#   py-spy     optional (--with-py-spy): a sampling profiler for --profile
# Idempotent. Only PyPI is contacted (through pip, as configured on this machine).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv-mitm"
MITMPROXY_VERSION="${MITMPROXY_VERSION:-11.0.2}"
PY_SPY_VERSION="${PY_SPY_VERSION:-0.4.3}"
PYTHON="${PYTHON:-python3}"

[ -x "$venv/bin/python" ] || "$PYTHON" -m venv "$venv"
if ! "$venv/bin/mitmdump" --version 2>/dev/null | grep -q "Mitmproxy: $MITMPROXY_VERSION\$"; then
    "$venv/bin/pip" install -q --disable-pip-version-check "mitmproxy==$MITMPROXY_VERSION"
fi
if [ "${1:-}" = "--with-py-spy" ] && ! "$venv/bin/py-spy" --version 2>/dev/null | grep -q "$PY_SPY_VERSION"; then
    "$venv/bin/pip" install -q --disable-pip-version-check "py-spy==$PY_SPY_VERSION"
fi
"$venv/bin/mitmdump" --version | head -1
