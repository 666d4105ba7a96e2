#!/usr/bin/env bash
# Builds the Kyverno admission controller (github.com/kyverno/kyverno/cmd/kyverno) from the Go modules
# pinned in this directory's go.mod/go.sum, into a cache outside the repository keyed by the version and
# the go.sum hash, like test/e2e/k8s/build.sh. A warm cache is reused as is. Prints two lines on stdout:
# the binary, then the module's source directory (its CRDs and install manifest are read from there).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

if ! command -v go > /dev/null && [[ -x /usr/local/go/bin/go ]]; then
  export PATH="/usr/local/go/bin:${PATH}"
fi
if ! command -v go > /dev/null; then
  echo "building Kyverno needs Go, which is not on PATH" >&2
  exit 1
fi

export CGO_ENABLED=0 GOFLAGS=-mod=readonly
version="$(awk '$1 == "github.com/kyverno/kyverno" { print $2; exit }' go.mod)"
sum_hash="$(sha256sum go.mod go.sum | sha256sum | cut -c1-12)"
cache_root="${POD_HARDENER_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pod-hardener-e2e}"
bin_dir="${cache_root}/kyverno-${version}-${sum_hash}/bin"

if [[ ! -x "${bin_dir}/kyverno" ]]; then
  started=$(date +%s)
  echo "building kyverno ${version} (github.com/kyverno/kyverno/cmd/kyverno)" >&2
  mkdir -p "${bin_dir}.partial"
  go build -trimpath -ldflags "-s -w" -o "${bin_dir}.partial/kyverno" github.com/kyverno/kyverno/cmd/kyverno
  rm -rf "$bin_dir"
  mv "${bin_dir}.partial" "$bin_dir"
  echo "kyverno ${version}: built in $(($(date +%s) - started)) s into ${bin_dir}" >&2
else
  echo "kyverno ${version}: cached in ${bin_dir}" >&2
fi
echo "${bin_dir}/kyverno"
go list -m -f '{{.Dir}}' github.com/kyverno/kyverno
