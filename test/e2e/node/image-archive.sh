# make_image, sourced by images.sh and workloads.sh: writes a docker-archive tarball that
# `ctr images import` accepts (manifest.json, a config whose rootfs.diff_ids hold the layer's sha256,
# one uncompressed layer). The layer is a deterministic tar (fixed mtime, sorted names, numeric
# owners), so unchanged content gives the same digests. Needs $work, a scratch directory.

# make_image NAME ROOTFS CONFIG_JSON TARBALL: one layer holding ROOTFS; CONFIG_JSON is the image's
# "config" object (Entrypoint, Cmd, User, ...).
make_image() {
  local name="$1" rootfs="$2" config="$3" tarball="$4"
  local image_dir="${work}/image-$(basename "$tarball" .tar)"
  mkdir -p "$image_dir"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu \
    -C "$rootfs" -cf "${image_dir}/layer.tar" .
  local diff_id
  diff_id="$(sha256sum "${image_dir}/layer.tar" | cut -d' ' -f1)"
  printf '{"architecture":"amd64","os":"linux","config":%s,"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$config" "$diff_id" > "${image_dir}/config.json"
  local config_id
  config_id="$(sha256sum "${image_dir}/config.json" | cut -d' ' -f1)"
  mv "${image_dir}/config.json" "${image_dir}/${config_id}.json"
  printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["layer.tar"]}]' "$config_id" "$name" \
    > "${image_dir}/manifest.json"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$image_dir" -cf "${tarball}.partial" .
  mv "${tarball}.partial" "$tarball"
  rm -rf "$image_dir"
  echo "$tarball"
}

