#!/usr/bin/env bash
# Builds etcd, kube-apiserver, kube-controller-manager, kubectl, kube-scheduler and kubelet from the Go
# modules pinned in this directory's go.mod/go.sum, into a cache outside the repository keyed by the Kubernetes version and the
# go.sum hash. A warm cache is reused as is. Prints the bin directory on stdout.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

kube_version="$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' go.mod)"
kube_minor="${kube_version#v1.}"
kube_minor="${kube_minor%%.*}"
sum_hash="$(sha256sum go.mod go.sum | sha256sum | cut -c1-12)"
cache_root="${POD_HARDENER_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pod-hardener-e2e}"
bin_dir="${cache_root}/k8s-${kube_version}-${sum_hash}/bin"
binaries=(etcd kube-apiserver kube-controller-manager kubectl kube-scheduler kubelet)

complete=true
for binary in "${binaries[@]}"; do
  [[ -x "${bin_dir}/${binary}" ]] || complete=false
done
if $complete; then
  echo "control plane ${kube_version}: cached in ${bin_dir}" >&2
  echo "$bin_dir"
  exit 0
fi

# shellcheck source=../lib/go-tool.sh
source ../lib/go-tool.sh
require_go 'the control plane'

started=$(date +%s)
staging="${bin_dir}.partial"
rm -rf "$staging"
mkdir -p "$staging"
# Version stamps so kubectl and the API server report the release they were built from.
version_flags="-X k8s.io/component-base/version.gitVersion=${kube_version}"
version_flags+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${kube_minor}"
version_flags+=" -X k8s.io/component-base/version.gitTreeState=clean"
version_flags+=" -X k8s.io/client-go/pkg/version.gitVersion=${kube_version}"
version_flags+=" -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=${kube_minor}"
export CGO_ENABLED=0 GOFLAGS=-mod=readonly
build() {
  local output="$1" package="$2"
  echo "building ${output} (${package})" >&2
  go build -trimpath -ldflags "-s -w ${version_flags}" -o "${staging}/${output}" "$package"
}
build etcd go.etcd.io/etcd/server/v3
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
build kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager
build kubectl k8s.io/kubernetes/cmd/kubectl
build kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler
build kubelet k8s.io/kubernetes/cmd/kubelet
rm -rf "$bin_dir"
mv "$staging" "$bin_dir"
echo "control plane ${kube_version}: built in $(($(date +%s) - started)) s into ${bin_dir}" >&2
echo "$bin_dir"
