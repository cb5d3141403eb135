#!/usr/bin/env bash
# Install promptwitness and a pinned Claude Code, then witness what Claude Code sends to
# its model: offline, no account, inside a network namespace that has loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VERSION=${CLAUDE_CODE_VERSION:-2.1.91}
CLAUDE=$(.venv/bin/python -c "
from promptwitness.agents.cache import ensure_npm
print(ensure_npm('claude-code', '@anthropic-ai/claude-code', '$VERSION', bin_name='claude'))")
export PROMPTWITNESS_STORE=${PROMPTWITNESS_STORE:-$PWD/.demo-store}
WORK=$(mktemp -d)
mkdir -p "$WORK/home" "$WORK/repo"
git -C "$WORK/repo" init -q
cd "$WORK/repo"
env -i PATH="$(dirname "$CLAUDE"):/usr/local/bin:/usr/bin:/bin" HOME="$WORK/home" TERM=dumb \
  PROMPTWITNESS_STORE="$PROMPTWITNESS_STORE" \
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_AUTOUPDATER=1 \
  "$OLDPWD/.venv/bin/promptwitness" record --isolate -- claude -p "Say hi" </dev/null
cd "$OLDPWD"
.venv/bin/promptwitness log --limit 5
ID=$(.venv/bin/promptwitness log --json | .venv/bin/python -c "
import json, sys
xs = [x for x in json.load(sys.stdin) if x['protocol'] == 'anthropic']
print(max(xs, key=lambda x: x['request_size'])['id'])")
.venv/bin/promptwitness show "$ID" | head -60
echo "… (full view: .venv/bin/promptwitness show $ID; store: $PROMPTWITNESS_STORE)"
