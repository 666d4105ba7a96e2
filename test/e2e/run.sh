#!/usr/bin/env bash
# The end-to-end suite: builds this repository and (first time only) the control plane, kubelet,
# kube-scheduler, containerd and helm from Go modules, then runs two mocha suites:
#   1. test/e2e/*.e2e.ts against a real kube-apiserver, with the webhook as a process of this build
#      (admission only: no node);
#   2. test/e2e/node/*.e2e.ts on a real node (root: containerd, runc, CNI, a kubelet), with the webhook
#      deployed in-cluster from the shipped manifests.
# Extra arguments go to both mocha runs, e.g. `test/e2e/run.sh --grep rotation`. E2E_SUITES=admission
# or E2E_SUITES=node runs one of them.
set -euo pipefail
repo_root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo_root"

started=$(date +%s)
suites="${E2E_SUITES:-admission node}"
npm run build --silent
E2E_BIN_DIR="$(bash test/e2e/k8s/build.sh)"
export E2E_BIN_DIR
# Both suites test the Helm chart.
E2E_HELM_BIN_DIR="$(bash test/e2e/helm/build.sh)"
export E2E_HELM_BIN_DIR
if [[ "$suites" == *node* ]]; then
  E2E_CONTAINERD_BIN_DIR="$(bash test/e2e/containerd/build.sh)"
  export E2E_CONTAINERD_BIN_DIR
fi

# The suites kill their children themselves; this catches what a killed mocha process could not, and
# undoes the node's host changes.
E2E_PID_FILE="$(mktemp)"
export E2E_PID_FILE
E2E_NODE_DIR=""
cleanup() {
  while read -r pid; do
    kill -9 "$pid" 2> /dev/null || true
  done < "$E2E_PID_FILE"
  rm -f "$E2E_PID_FILE"
  if [[ -n "$E2E_NODE_DIR" && -d "$E2E_NODE_DIR" ]]; then
    bash test/e2e/node/host.sh down "$E2E_NODE_DIR" || true
    if [[ "${E2E_KEEP:-}" != 1 ]]; then rm -rf "$E2E_NODE_DIR"; fi
  fi
}
trap cleanup EXIT
# A signal ends the script through exit, so the EXIT trap runs.
trap 'exit 130' INT TERM HUP

status=0
if [[ "$suites" == *admission* ]]; then
  npx mocha --config test/e2e/.mocharc.json "$@" || status=1
fi
if [[ "$suites" == *node* ]]; then
  E2E_NODE_DIR="$(mktemp -d /tmp/pod-hardener-node-XXXXXX)"
  export E2E_NODE_DIR
  npx mocha --config test/e2e/node/.mocharc.json "$@" || status=1
fi
echo "e2e: finished in $(($(date +%s) - started)) s"
exit $status
