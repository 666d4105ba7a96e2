#!/usr/bin/env bash
# Builds helm (v4, helm.sh/helm/v4/cmd/helm) from the Go module pinned in this directory's
# go.mod/go.sum, into a cache outside the repository keyed by the helm version and the go.sum hash, for
# the chart tests (test/e2e/helm.e2e.ts, test/e2e/node/helm.e2e.ts). A warm cache is reused as is.
# Prints the bin directory on stdout.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

version="$(awk '$1 == "helm.sh/helm/v4" { print $2; exit }' go.mod)"
sum_hash="$(sha256sum go.mod go.sum | sha256sum | cut -c1-12)"
cache_root="${POD_HARDENER_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pod-hardener-e2e}"
bin_dir="${cache_root}/helm-${version}-${sum_hash}/bin"

if [[ -x "${bin_dir}/helm" ]]; then
  echo "helm ${version}: cached in ${bin_dir}" >&2
  echo "$bin_dir"
  exit 0
fi

# Non-login shells (CI among them) may not have Go's default install directory on PATH.
if ! command -v go > /dev/null && [[ -x /usr/local/go/bin/go ]]; then
  export PATH="/usr/local/go/bin:${PATH}"
fi
if ! command -v go > /dev/null; then
  echo "the e2e suite builds helm with Go, which is not on PATH" >&2
  exit 1
fi

started=$(date +%s)
staging="${bin_dir}.partial"
rm -rf "$staging"
mkdir -p "$staging"
export CGO_ENABLED=0 GOFLAGS=-mod=readonly
echo "building helm ${version}" >&2
# Without the version stamp `helm version` says v4.3 and charts' kubeVersion checks see no patch.
go build -trimpath -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=${version}" \
  -o "${staging}/helm" helm.sh/helm/v4/cmd/helm
rm -rf "$bin_dir"
mv "$staging" "$bin_dir"
echo "helm ${version}: built in $(($(date +%s) - started)) s into ${bin_dir}" >&2
echo "$bin_dir"
