#!/usr/bin/env bash
# Builds containerd, containerd-shim-runc-v2, ctr and the sandbox image's pause program from the Go
# modules pinned in this directory's go.mod/go.sum (CGO_ENABLED=0: no btrfs snapshotter, which the e2e node does not use), into a cache
# outside the repository keyed by the containerd version and the go.sum hash. A warm cache is reused
# as is. Prints the bin directory on stdout.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

version="$(awk '$1 == "github.com/containerd/containerd/v2" { print $2; exit }' go.mod)"
sum_hash="$(sha256sum go.mod go.sum pause/main.go | sha256sum | cut -c1-12)"
cache_root="${POD_HARDENER_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pod-hardener-e2e}"
bin_dir="${cache_root}/containerd-${version}-${sum_hash}/bin"
binaries=(containerd containerd-shim-runc-v2 ctr pause)

complete=true
for binary in "${binaries[@]}"; do
  [[ -x "${bin_dir}/${binary}" ]] || complete=false
done
if $complete; then
  echo "containerd ${version}: cached in ${bin_dir}" >&2
  echo "$bin_dir"
  exit 0
fi

# shellcheck source=../lib/go-tool.sh
source ../lib/go-tool.sh
require_go containerd

started=$(date +%s)
staging="${bin_dir}.partial"
rm -rf "$staging"
mkdir -p "$staging"
export CGO_ENABLED=0 GOFLAGS=-mod=readonly
pkg=github.com/containerd/containerd/v2
version_flags="-X ${pkg}/version.Version=${version} -X ${pkg}/version.Package=${pkg}"
for binary in containerd containerd-shim-runc-v2 ctr; do
  echo "building ${binary} (${pkg}/cmd/${binary})" >&2
  go build -trimpath -ldflags "-s -w ${version_flags}" -o "${staging}/${binary}" "${pkg}/cmd/${binary}"
done
# The sandbox image's only program (see pause/main.go).
go build -trimpath -ldflags "-s -w" -o "${staging}/pause" ./pause
rm -rf "$bin_dir"
mv "$staging" "$bin_dir"
echo "containerd ${version}: built in $(($(date +%s) - started)) s into ${bin_dir}" >&2
echo "$bin_dir"
