#!/usr/bin/env bash
# The node tools the tests use (the Teams manifest validator, adaptivecards, Microsoft 365 Agents
# Playground), installed exactly as package-lock.json pins them, with `npm ci`, when node is here
# and node_modules is missing or older than package.json or package-lock.json. `make test` and
# .ci/run call it, so a fresh clone's `make test` runs every test rather than skipping the card
# and manifest validators and the Playground.
#
# Without node or npm it says what is skipped and exits 0: the tests that need them skip and say
# why (or, with CI set, fail). A failed `npm ci` exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "node-tools: node or npm is not installed, so the Adaptive Card and Teams manifest" >&2
  echo "node-tools: validators and the Playground test will skip. Install Node.js 20+ and npm" >&2
  echo "node-tools: (Debian: apt-get install nodejs npm) to run them." >&2
  exit 0
fi
if [ -f node_modules/.package-lock.json ] \
  && [ ! package-lock.json -nt node_modules/.package-lock.json ] \
  && [ ! package.json -nt node_modules/.package-lock.json ]; then
  exit 0
fi
echo "node-tools: installing the node tools the tests use (npm ci)..." >&2
npm ci --no-audit --no-fund --loglevel=error >&2
