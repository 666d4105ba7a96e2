#!/usr/bin/env bash
# Builds the e2e node's images offline, as docker-archive tarballs that `ctr images import` accepts,
# from what is on this machine (no registry is reachable):
#
#   localhost/e2e/pause:latest      the pause program built with containerd (test/e2e/containerd/pause)
#   localhost/e2e/busybox:latest    Debian's busybox-static, one symlink per applet; runs as root like
#                                   the upstream busybox image (no USER)
#   localhost/pod-hardener:e2e      the Dockerfile's runtime layout: /nodejs/bin/node (this machine's
#                                   Node.js and the shared libraries ldd lists), /app/dist, the
#                                   production node_modules, /app/package.json, USER 65532:65532
#
# Usage: images.sh OUT_DIR PAUSE_BINARY REPO_ROOT. Prints one tarball path per line. Layers are
# deterministic tars (fixed mtime, sorted names, numeric owners), so unchanged content gives the same
# digests.
set -euo pipefail
out_dir="${1:?usage: images.sh OUT_DIR PAUSE_BINARY REPO_ROOT}"
pause_binary="${2:?}"
repo_root="${3:?}"
mkdir -p "$out_dir"
work="$(mktemp -d "${out_dir}/build.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# shellcheck source=image-archive.sh
source "$(dirname "$0")/image-archive.sh"

passwd_files() {
  local rootfs="$1"
  mkdir -p "${rootfs}/etc"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nnonroot:x:65532:65532:nonroot:/home/nonroot:/bin/false\n' \
    > "${rootfs}/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\nnonroot:x:65532:\n' > "${rootfs}/etc/group"
}

# Copies BINARY to DEST inside ROOTFS with every shared library ldd lists, at the same paths.
copy_with_libraries() {
  local rootfs="$1" binary="$2" dest="$3"
  mkdir -p "${rootfs}$(dirname "$dest")"
  cp -L "$binary" "${rootfs}${dest}"
  local lib
  while read -r lib; do
    [[ -n "$lib" && -e "$lib" ]] || continue
    mkdir -p "${rootfs}$(dirname "$lib")"
    cp -L "$lib" "${rootfs}${lib}"
  done < <(ldd "$binary" | grep -oE '/[^ ]+' | sort -u)
}

# pause
rootfs="${work}/pause"
mkdir -p "$rootfs"
cp "$pause_binary" "${rootfs}/pause"
make_image localhost/e2e/pause:latest "$rootfs" '{"Entrypoint":["/pause"]}' "${out_dir}/pause.tar"

# busybox
rootfs="${work}/busybox"
mkdir -p "${rootfs}/bin" "${rootfs}/tmp" "${rootfs}/root" "${rootfs}/var" "${rootfs}/home"
chmod 1777 "${rootfs}/tmp"
cp /bin/busybox "${rootfs}/bin/busybox"
for applet in $(/bin/busybox --list); do
  [[ "$applet" == busybox ]] || ln -s busybox "${rootfs}/bin/${applet}"
done
passwd_files "$rootfs"
make_image localhost/e2e/busybox:latest "$rootfs" \
  '{"Cmd":["sh"],"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]}' \
  "${out_dir}/busybox.tar"

# pod-hardener, in the Dockerfile's runtime layout
rootfs="${work}/pod-hardener"
mkdir -p "${rootfs}/app" "${rootfs}/tmp" "${rootfs}/home/nonroot"
chmod 1777 "${rootfs}/tmp"
copy_with_libraries "$rootfs" "$(readlink -f "$(command -v node)")" /nodejs/bin/node
passwd_files "$rootfs"
cp "${repo_root}/package.json" "${repo_root}/package-lock.json" "${rootfs}/app/"
cp -r "${repo_root}/dist" "${rootfs}/app/dist"
(cd "${rootfs}/app" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error > /dev/null)
rm -f "${rootfs}/app/package-lock.json"
make_image localhost/pod-hardener:e2e "$rootfs" \
  '{"User":"65532:65532","WorkingDir":"/app","Entrypoint":["/nodejs/bin/node","dist/cli.js"],"Cmd":["serve"],"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","NODE_ENV=production"],"ExposedPorts":{"8443/tcp":{}}}' \
  "${out_dir}/pod-hardener.tar"
