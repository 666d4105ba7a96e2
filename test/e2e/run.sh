#!/usr/bin/env bash
# The end-to-end suite: builds this repository and (first time only) the control plane binaries from
# Go modules, then runs the mocha scenarios under test/e2e against a real kube-apiserver.
# Extra arguments go to mocha, e.g. `test/e2e/run.sh --grep rotation`.
set -euo pipefail
repo_root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo_root"

started=$(date +%s)
npm run build --silent
E2E_BIN_DIR="$(bash test/e2e/k8s/build.sh)"
export E2E_BIN_DIR

# The suite kills its children itself; this catches what a killed mocha process could not.
E2E_PID_FILE="$(mktemp)"
export E2E_PID_FILE
cleanup() {
  while read -r pid; do
    kill -9 "$pid" 2> /dev/null || true
  done < "$E2E_PID_FILE"
  rm -f "$E2E_PID_FILE"
}
trap cleanup EXIT

npx mocha --config test/e2e/.mocharc.json "$@"
echo "e2e: finished in $(($(date +%s) - started)) s"
