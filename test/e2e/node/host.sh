#!/usr/bin/env bash
# Host-global set-up and teardown of the e2e node (one node per machine at a time).
#
#   host.sh install             apt-get install what the node needs and the machine lacks
#   host.sh up API_PORT [STATE_DIR]
#                               record the host's state (and STATE_DIR, for a later `down`), then: a node IP on lo, an unreachable route
#                               for the service CIDR, one DNAT rule for the kubernetes Service, a
#                               FORWARD guard so pod traffic never leaves the machine, ip_forward
#   host.sh down [STATE_DIR...] kill what runs in the kubepods cgroups and our shims, unmount what is
#                               mounted under STATE_DIR and the host-global runtime directories, and
#                               undo every change `up`, containerd, the CNI plugins and the kubelet made
#
# `down` is idempotent and works without a record (after an interrupted run it is also what `up`
# runs first). Everything it removes is listed in the README ("make cluster").
set -euo pipefail

NODE_IP=10.99.0.1
POD_CIDR=10.244.0.0/24
SERVICE_CIDR=10.96.0.0/16
KUBERNETES_SERVICE_IP=10.96.0.1
BRIDGE=phe2e0
CHAIN=PH-E2E
RECORD_DIR=/run/pod-hardener-e2e
RECORD="${RECORD_DIR}/host-state"
# Host-global directories the runtime, the CNI plugins and the kubelet write whatever their own
# directories are; each is removed by `down` only if it did not exist before `up`.
GLOBAL_DIRS=(/run/containerd /var/lib/cni /var/log/containers /var/lib/kubelet /run/netns /etc/cni)

log() { echo "host.sh: $*" >&2; }

need_root() {
  if [[ $(id -u) -ne 0 ]]; then
    log "the e2e node needs root (network namespaces, mounts, cgroups)"
    exit 1
  fi
}

install_packages() {
  need_root
  local missing=()
  command -v runc > /dev/null || [[ -x /usr/sbin/runc ]] || missing+=(runc)
  [[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/portmap ]] ||
    missing+=(containernetworking-plugins)
  command -v iptables > /dev/null || missing+=(iptables)
  [[ -x /bin/busybox ]] || missing+=(busybox-static)
  command -v ip > /dev/null || missing+=(iproute2)
  if ((${#missing[@]} > 0)); then
    log "installing ${missing[*]}"
    apt-get update -qq > /dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
  fi
}

save_iptables_filtered() {
  # Removes every chain named KUBE-*, CNI-* or PH-E2E* and every rule that mentions one.
  local family="$1"
  command -v "${family}-save" > /dev/null || return 0
  local saved
  saved="$("${family}-save" 2> /dev/null)" || return 0
  if grep -qE '(KUBE-|CNI-|PH-E2E)' <<< "$saved"; then
    grep -vE '(KUBE-|CNI-|PH-E2E)' <<< "$saved" | "${family}-restore" || log "${family}-restore failed"
  fi
}

up() {
  need_root
  local api_port="${1:?usage: host.sh up API_PORT [STATE_DIR]}"
  local state_dir="${2:-}"
  if [[ -e "$RECORD" ]]; then
    log "a previous node was not torn down; tearing it down first"
    down
  fi
  mkdir -p "$RECORD_DIR"
  {
    echo "ip_forward=$(cat /proc/sys/net/ipv4/ip_forward)"
    if [[ -n "$state_dir" ]]; then echo "state_dir=${state_dir}"; fi
    for dir in "${GLOBAL_DIRS[@]}"; do
      if [[ -e "$dir" ]]; then echo "existed=${dir}"; fi
    done
  } > "${RECORD}.partial"
  mv "${RECORD}.partial" "$RECORD"

  ip addr add "${NODE_IP}/32" dev lo 2> /dev/null || true
  # Nothing programs ClusterIPs (no kube-proxy): a packet for the service CIDR must fail here, never
  # follow the default route off the machine.
  ip route replace unreachable "$SERVICE_CIDR"
  echo 1 > /proc/sys/net/ipv4/ip_forward

  iptables -t nat -N "$CHAIN"
  iptables -t nat -A "$CHAIN" -d "$KUBERNETES_SERVICE_IP" -p tcp --dport 443 -j DNAT --to-destination "${NODE_IP}:${api_port}"
  iptables -t nat -I PREROUTING -j "$CHAIN"
  # Pods talk to each other and to this host only.
  iptables -N "${CHAIN}-FWD"
  iptables -A "${CHAIN}-FWD" -s "$POD_CIDR" -d "$POD_CIDR" -j ACCEPT
  iptables -A "${CHAIN}-FWD" -s "$POD_CIDR" -j REJECT --reject-with icmp-net-unreachable
  iptables -A "${CHAIN}-FWD" -d "$POD_CIDR" -j REJECT --reject-with icmp-net-unreachable
  iptables -I FORWARD -j "${CHAIN}-FWD"
}

kill_pids() {
  local pids=("$@")
  ((${#pids[@]} > 0)) || return 0
  kill -9 "${pids[@]}" 2> /dev/null || true
}

down() {
  need_root
  local state_dirs=("$@")
  # The directory of the run that made the record: after an interrupted run, its mounts are still there.
  if [[ -f "$RECORD" ]]; then
    local recorded
    recorded="$(sed -n 's/^state_dir=//p' "$RECORD")"
    if [[ -n "$recorded" ]]; then state_dirs+=("$recorded"); fi
  fi

  # 1. Every container process (they live in the kubepods cgroups) and every shim of ours.
  local pids=()
  local procs
  while read -r procs; do
    while read -r pid; do pids+=("$pid"); done < "$procs"
  done < <(find /sys/fs/cgroup/*/kubepods -name cgroup.procs 2> /dev/null)
  for exe in /proc/[0-9]*/exe; do
    local target
    target="$(readlink "$exe" 2> /dev/null)" || continue
    if [[ "$target" == */pod-hardener-e2e/containerd-*/bin/containerd-shim-runc-v2 ]]; then
      pid="${exe#/proc/}"
      pids+=("${pid%/exe}")
    fi
  done
  kill_pids "${pids[@]}"
  sleep 0.2

  # 2. Mounts: overlay rootfs, shm, sandbox netns bind mounts, kubelet volumes.
  local prefixes=(/run/containerd/ /run/netns/cni- /var/lib/kubelet/)
  for dir in "${state_dirs[@]}"; do prefixes+=("${dir%/}/"); done
  local mounts
  mounts="$(awk '{ print $5 }' /proc/self/mountinfo | sort -r)"
  local mount_point prefix
  while read -r mount_point; do
    for prefix in "${prefixes[@]}"; do
      if [[ "$mount_point" == "$prefix"* ]]; then
        umount -l "$mount_point" 2> /dev/null || true
        break
      fi
    done
  done <<< "$mounts"
  for netns in /run/netns/cni-*; do
    [[ -e "$netns" ]] && ip netns delete "${netns#/run/netns/}" 2> /dev/null
  done

  # 3. cgroups the kubelet created, deepest first (empty now).
  for root in /sys/fs/cgroup/*/kubepods; do
    [[ -d "$root" ]] && find "$root" -depth -type d -exec rmdir {} + 2> /dev/null
  done

  # 4. Network.
  ip link del "$BRIDGE" 2> /dev/null || true
  ip addr del "${NODE_IP}/32" dev lo 2> /dev/null || true
  ip route del unreachable "$SERVICE_CIDR" 2> /dev/null || true
  save_iptables_filtered iptables
  save_iptables_filtered ip6tables

  # 5. What `up` recorded: ip_forward, and which host-global directories existed before.
  local forward=0 existed=()
  if [[ -f "$RECORD" ]]; then
    forward="$(sed -n 's/^ip_forward=//p' "$RECORD")"
    mapfile -t existed < <(sed -n 's/^existed=//p' "$RECORD")
  fi
  echo "${forward:-0}" > /proc/sys/net/ipv4/ip_forward
  if [[ -d /var/log/containers ]]; then
    local link
    for link in /var/log/containers/*.log; do
      [[ -L "$link" ]] || continue
      for dir in "${state_dirs[@]}"; do
        [[ "$(readlink "$link")" == "${dir%/}/"* ]] && rm -f "$link"
      done
    done
  fi
  for dir in "${GLOBAL_DIRS[@]}"; do
    local keep=false
    for kept in "${existed[@]}"; do [[ "$kept" == "$dir" ]] && keep=true; done
    if ! $keep; then
      rm -rf "$dir" 2> /dev/null || log "could not remove ${dir}"
    fi
  done
  # An interrupted e2e run's directory (its processes and mounts are gone now); make cluster's is
  # removed by cluster.sh.
  if [[ -n "${recorded:-}" && "$recorded" == /tmp/pod-hardener-node-* && -d "$recorded" ]]; then
    local named=false
    for dir in "$@"; do [[ "${dir%/}" == "${recorded%/}" ]] && named=true; done
    $named || rm -rf "$recorded"
  fi
  rm -rf "$RECORD_DIR"
}

case "${1:-}" in
  install) install_packages ;;
  up)
    shift
    up "$@"
    ;;
  down)
    shift
    down "$@"
    ;;
  *)
    echo "usage: host.sh install | up API_PORT [STATE_DIR] | down [STATE_DIR...]" >&2
    exit 2
    ;;
esac
