#!/usr/bin/env bash
# Builds helm (v4, helm.sh/helm/v4/cmd/helm) from the Go module pinned in this directory's
# go.mod/go.sum into the e2e cache (test/e2e/lib/go-tool.sh), for the chart tests
# (test/e2e/helm.e2e.ts, test/e2e/node/helm.e2e.ts). Prints the bin directory on stdout.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
# shellcheck source=../lib/go-tool.sh
source ../lib/go-tool.sh
# Without the version stamp `helm version` says v4.3 and charts' kubeVersion checks see no patch.
build_go_tool helm helm.sh/helm/v4 helm.sh/helm/v4/cmd/helm \
  "-X helm.sh/helm/v4/internal/version.version=@VERSION@"
