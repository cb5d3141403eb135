#!/usr/bin/env bash
# Install promptwitness and a pinned Claude Code, then witness what Claude Code sends to
# its model: offline, no account, inside a network namespace that has loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --no-browser
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
.venv/bin/promptwitness show "$ID" > "$WORK/show.txt"
head -60 "$WORK/show.txt"
echo "… (full view: .venv/bin/promptwitness show --store $PROMPTWITNESS_STORE $ID)"
echo
echo "== probe: does anything Claude Code sends depend on the time zone, locale, proxy or endpoint host?"
CACHE=$(dirname "$(dirname "$(dirname "$CLAUDE")")")
set +e
# every run's clock starts at noon UTC today: Etc/GMT-14 is then on tomorrow's date and
# Etc/GMT+12 on today's, whatever the hour the demo runs at
.venv/bin/promptwitness probe --jobs 2 --clock "$(date -u +%Y-%m-%dT12:00:00Z)" \
  --factor tz=UTC,Etc/GMT+12,Etc/GMT-14,Asia/Shanghai \
  --factor locale=C.UTF-8,zh_CN.UTF-8,ja_JP.UTF-8 \
  --factor proxy \
  --factor endpoint-host=127.0.0.1,api.deepseek.com,api.moonshot.cn \
  --env CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 --env DISABLE_AUTOUPDATER=1 \
  --expose "$CACHE" --json "$PROMPTWITNESS_STORE/probe-report.json" \
  -- "$CLAUDE" -p "Say hi" --output-format json </dev/null
code=$?
set -e
case $code in
  0) echo "verdict: clean (exit 0)";;
  1) echo "verdict: conditioned (exit 1): see the findings above";;
  3) echo "verdict: inconclusive (exit 3)";;
  *) echo "the probe failed (exit $code)"; exit "$code";;
esac
echo "JSON report: $PROMPTWITNESS_STORE/probe-report.json"
echo "In another shell: .venv/bin/promptwitness log --store $PROMPTWITNESS_STORE (or export PROMPTWITNESS_STORE=$PROMPTWITNESS_STORE)"
