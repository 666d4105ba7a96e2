#!/usr/bin/env bash
# Builds kustomize from the Go module pinned in this directory's go.mod/go.sum into the e2e cache
# (test/e2e/lib/go-tool.sh), for the KRM function test (test/e2e/krm.e2e.ts). Prints the bin
# directory on stdout.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
# shellcheck source=../lib/go-tool.sh
source ../lib/go-tool.sh
build_go_tool kustomize sigs.k8s.io/kustomize/kustomize/v5 sigs.k8s.io/kustomize/kustomize/v5 \
  "-X sigs.k8s.io/kustomize/api/provenance.version=kustomize/@VERSION@"
