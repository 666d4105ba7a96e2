#!/usr/bin/env bash
# Images of real workloads that nobody here wrote, from Debian's packages, for the node suite:
#
#   localhost/e2e/nginx:latest       nginx-light, Debian's /etc/nginx as shipped
#   localhost/e2e/redis:latest       redis-server, Debian's /etc/redis/redis.conf
#   localhost/e2e/postgresql:latest  postgresql-15 (initdb's defaults; Debian's cluster config is made
#                                    by pg_createcluster at install time, not shipped in the package)
#
# Each package and its dependencies (apt-cache depends --recurse, without recommends) are fetched with
# `apt-get download` into a cache outside the clone and unpacked with `dpkg -x` into one rootfs; what
# their maintainer scripts would have done (system users, nginx's default site link) is done here, and
# busybox fills in /bin/sh and the tools the probes use where the packages left a gap. No package
# scripts run. The command each image runs is in the README's table.
#
# Usage: workloads.sh. Prints one docker-archive tarball per line (image-archive.sh's format). The
# tarballs are cached next to the Go builds, keyed by the hash of this script and image-archive.sh;
# Debian's security updates reach them when either changes or the cache is removed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache_root="${POD_HARDENER_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pod-hardener-e2e}"
debs="${cache_root}/debs"
out_dir="${cache_root}/workload-images-$(cat "${here}/workloads.sh" "${here}/image-archive.sh" | sha256sum | cut -c1-12)"
tarballs=(nginx.tar redis.tar postgresql.tar)
if [[ -d "$out_dir" ]]; then
  printf "${out_dir}/%s\n" "${tarballs[@]}"
  exit 0
fi
staging="${out_dir}.partial"
rm -rf "$staging"
mkdir -p "$debs" "$staging"
work="$(mktemp -d "${staging}/work.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# Large or irrelevant to running the server: locale archives, the JIT's LLVM, Perl's module tree (only
# Debian's wrapper scripts use it), and the usr-merge converter.
EXCLUDE='^(locales|locales-all|libllvm14|libz3-4|perl-modules-5.36|usrmerge|debconf|cdebconf|install-info|dpkg)$'

closure() {
  apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
    --no-enhances "$@" 2> /dev/null | grep -E '^[a-z0-9]' | sort -u | grep -vE "$EXCLUDE"
}

fetch() {
  local missing=()
  local package
  for package in "$@"; do
    compgen -G "${debs}/${package}_*.deb" > /dev/null || missing+=("$package")
  done
  if ((${#missing[@]} > 0)); then
    if ! (cd "$debs" && apt-get download -qq "${missing[@]}" > /dev/null 2>&1); then
      apt-get update -qq > /dev/null
      (cd "$debs" && apt-get download -qq "${missing[@]}" > /dev/null)
    fi
  fi
}

# rootfs PACKAGE...: unpack the closure of the packages, plus busybox where a file is missing.
rootfs() {
  local root="$1"
  shift
  mapfile -t packages < <(closure "$@")
  if ((${#packages[@]} == 0)); then
    apt-get update -qq > /dev/null
    mapfile -t packages < <(closure "$@")
  fi
  fetch "${packages[@]}"
  mkdir -p "$root"
  local package deb
  for package in "${packages[@]}"; do
    deb="$(compgen -G "${debs}/${package}_*.deb" | sort | tail -1)"
    dpkg -x "$deb" "$root"
  done
  mkdir -p "${root}/bin" "${root}/tmp" "${root}/run" "${root}/etc" "${root}/var"
  chmod 1777 "${root}/tmp"
  # base-files' link, which PostgreSQL's compiled-in socket directory (/var/run/postgresql) goes through.
  [[ -e "${root}/var/run" ]] || ln -s /run "${root}/var/run"
  cp /bin/busybox "${root}/bin/busybox"
  local applet
  for applet in $(/bin/busybox --list); do
    [[ -e "${root}/bin/${applet}" || -L "${root}/bin/${applet}" || -e "${root}/usr/bin/${applet}" ]] ||
      ln -s busybox "${root}/bin/${applet}"
  done
}

passwd() {
  local root="$1"
  shift
  {
    echo 'root:x:0:0:root:/root:/bin/sh'
    printf '%s\n' "$@"
    echo 'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin'
    echo 'nonroot:x:65532:65532:nonroot:/home/nonroot:/usr/sbin/nologin'
  } > "${root}/etc/passwd"
  sed -E 's/^([^:]+):x:([0-9]+):([0-9]+):.*/\1:x:\3:/' "${root}/etc/passwd" | sort -u -t: -k3,3n > "${root}/etc/group"
}

# shellcheck source=image-archive.sh
source "${here}/image-archive.sh"

PATH_ENV='"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"'

root="${work}/nginx"
rootfs "$root" nginx-light
passwd "$root" 'www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin'
# nginx-common's postinst enables the default site and installs its welcome page.
ln -sf /etc/nginx/sites-available/default "${root}/etc/nginx/sites-enabled/default"
mkdir -p "${root}/var/www/html"
cp "${root}/usr/share/nginx/html/index.html" "${root}/var/www/html/index.nginx-debian.html"
make_image localhost/e2e/nginx:latest "$root" \
  "{\"Cmd\":[\"nginx\",\"-g\",\"daemon off;\"],\"Env\":[${PATH_ENV}],\"ExposedPorts\":{\"80/tcp\":{}}}" \
  "${staging}/nginx.tar" > /dev/null

# As Debian's redis-server.service runs it: in the foreground.
root="${work}/redis"
rootfs "$root" redis-server
passwd "$root" 'redis:x:100:101:redis:/var/lib/redis:/usr/sbin/nologin'
make_image localhost/e2e/redis:latest "$root" \
  "{\"Cmd\":[\"redis-server\",\"/etc/redis/redis.conf\",\"--daemonize\",\"no\"],\"Env\":[${PATH_ENV}],\"ExposedPorts\":{\"6379/tcp\":{}}}" \
  "${staging}/redis.tar" > /dev/null

# As the official image runs it: initdb on first start, then postgres listening on every address.
root="${work}/postgresql"
rootfs "$root" postgresql-15
passwd "$root" 'postgres:x:101:102:PostgreSQL administrator:/var/lib/postgresql:/bin/sh'
make_image localhost/e2e/postgresql:latest "$root" \
  "{\"Cmd\":[\"sh\",\"-c\",\"test -s /var/lib/postgresql/data/PG_VERSION || initdb -D /var/lib/postgresql/data; exec postgres -D /var/lib/postgresql/data -c listen_addresses=*\"],\"Env\":[\"PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"],\"ExposedPorts\":{\"5432/tcp\":{}}}" \
  "${staging}/postgresql.tar" > /dev/null
rm -rf "$work"
mv "$staging" "$out_dir"
printf "${out_dir}/%s\n" "${tarballs[@]}"
