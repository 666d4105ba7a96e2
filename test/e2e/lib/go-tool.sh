# Sourced by the e2e tier's Go build scripts. require_go puts Go on PATH for all of them (control
# plane, containerd, helm, kustomize); build_go_tool is the whole build of a single-binary tool (helm,
# kustomize), each pinning its module in its own directory's go.mod/go.sum and calling it from there. The binary goes into a cache outside the repository keyed by the tool's version and the go.sum
# hash; a warm cache is reused as is. Prints the bin directory on stdout, progress on stderr.
#
#   build_go_tool NAME MODULE PACKAGE LDFLAGS
#     NAME     the binary, and the cache directory's prefix
#     MODULE   the module whose go.mod version names the cache (e.g. helm.sh/helm/v4)
#     PACKAGE  the main package to build
#     LDFLAGS  extra -ldflags (a version stamp), after -s -w
#   require_go WHAT   exits with a message naming WHAT when there is no Go to build it with
require_go() {
  # Non-login shells (CI among them) may not have Go's default install directory on PATH.
  if ! command -v go > /dev/null && [[ -x /usr/local/go/bin/go ]]; then
    export PATH="/usr/local/go/bin:${PATH}"
  fi
  if ! command -v go > /dev/null; then
    echo "the e2e suite builds $1 with Go, which is not on PATH" >&2
    exit 1
  fi
}

build_go_tool() {
  local name="$1" module="$2" package="$3" ldflags="$4"
  local version sum_hash cache_root bin_dir started staging
  version="$(awk -v m="$module" '$1 == m { print $2; exit }' go.mod)"
  sum_hash="$(sha256sum go.mod go.sum | sha256sum | cut -c1-12)"
  cache_root="${POD_HARDENER_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pod-hardener-e2e}"
  bin_dir="${cache_root}/${name}-${version}-${sum_hash}/bin"

  if [[ -x "${bin_dir}/${name}" ]]; then
    echo "${name} ${version}: cached in ${bin_dir}" >&2
    echo "$bin_dir"
    return 0
  fi

  require_go "$name"

  started=$(date +%s)
  staging="${bin_dir}.partial"
  rm -rf "$staging"
  mkdir -p "$staging"
  echo "building ${name} ${version}" >&2
  CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -trimpath -ldflags "-s -w ${ldflags//@VERSION@/$version}" \
    -o "${staging}/${name}" "$package"
  rm -rf "$bin_dir"
  mv "$staging" "$bin_dir"
  echo "${name} ${version}: built in $(($(date +%s) - started)) s into ${bin_dir}" >&2
  echo "$bin_dir"
}
