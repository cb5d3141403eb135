#!/usr/bin/env bash
# Install everything the tests need, then run lint, types and the whole test suite
# (unit, integration, and end-to-end tests with real agents from the npm registry).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== ruff" >&2
.venv/bin/ruff check src tests benchmarks
.venv/bin/ruff format --check src tests benchmarks
echo "== mypy" >&2
.venv/bin/mypy
echo "== pytest" >&2
.venv/bin/pytest "$@"
