#!/usr/bin/env bash
# `make cluster-down`: stops every process `make cluster` started (by the PIDs it recorded, and only
# those whose executable is still one of the cached binaries), then undoes the host changes
# (host.sh down) and removes the cluster's directory. Safe to run twice, or with no cluster.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir="${POD_HARDENER_CLUSTER_DIR:-/tmp/pod-hardener-cluster}"
cache_root="${POD_HARDENER_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pod-hardener-e2e}"

ours() {
  local exe
  exe="$(readlink "/proc/$1/exe" 2> /dev/null)" || return 1
  [[ "$exe" == "${cache_root}/"* ]]
}

case "${1:-}" in
  down)
    if [[ -f "${dir}/pids" ]]; then
      mapfile -t pids < <(tac "${dir}/pids")
      for pid in "${pids[@]}"; do
        if ours "$pid"; then kill "$pid" 2> /dev/null || true; fi
      done
      for _ in $(seq 1 50); do
        alive=0
        for pid in "${pids[@]}"; do ours "$pid" && alive=1; done
        ((alive == 0)) && break
        sleep 0.2
      done
      for pid in "${pids[@]}"; do
        if ours "$pid"; then kill -9 "$pid" 2> /dev/null || true; fi
      done
    fi
    bash "${here}/host.sh" down "$dir"
    rm -rf "$dir"
    echo "make cluster-down: stopped, host restored"
    ;;
  *)
    echo "usage: cluster.sh down" >&2
    exit 2
    ;;
esac
