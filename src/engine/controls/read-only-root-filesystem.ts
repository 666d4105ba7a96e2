/**
 * read-only-root-filesystem
 *
 * Spec: `readOnlyRootFilesystem: true` on every container where it is unset, and, in every container
 * whose root filesystem ends up read-only, a writable emptyDir at `/tmp` and at each path of the
 * `writable-paths` annotation, unless the container already mounts something at that path. A container
 * that says `readOnlyRootFilesystem: false` is left alone: it can already write.
 *
 * One emptyDir per path, shared by the containers that mount it, with the configured sizeLimit. Its
 * name never collides with a volume the pod already has: the first of `name`, `name--2`, `name--3`, ...
 * that is either free or already an emptyDir is used, so a second pass (reinvocation) finds the volume
 * the first pass added instead of adding another one.
 *
 * Ephemeral containers cannot add volumes (the pod spec is immutable), so they mount the existing
 * volume when the pod has one, and are reported otherwise.
 *
 * A container whose image profile lists `writablePaths` gets those too (after the pod's), recorded
 * with the profile's name, and so does the volume a profile's path adds.
 *
 * Windows pods: skipped (the API forbids readOnlyRootFilesystem there).
 */
import { createHash } from 'node:crypto';
import type { Pod, Volume } from '../pod/model.js';
import { normaliseMountPath } from '../pod/mount-path.js';
import { DraftRecorder } from './recorder.js';
import type { Control, ControlInputs, ControlScope } from './types.js';

const VOLUME_NAME_PREFIX = 'pod-hardener-';
const MAX_VOLUME_NAME = 63;

/**
 * A readable DNS label for a path. Paths made only of lowercase letters and digits map one to one
 * (`/var/cache/nginx` → `var-cache-nginx`); anything else gets a hash suffix so that two different
 * paths can never map to the same name. Hash and collision suffixes follow a double dash, which a
 * one-to-one name never contains, so no suffixed name can equal another path's plain name.
 */
export function volumeBaseName(path: string): string {
  const slug = path
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  // Room for the prefix, a hash suffix "--0123abcd" and a collision suffix such as "--12".
  const room = MAX_VOLUME_NAME - VOLUME_NAME_PREFIX.length - 10 - 4;
  const lossless = /^(\/[a-z0-9]+)+$/.test(path) && slug.length <= room;
  if (lossless) return VOLUME_NAME_PREFIX + slug;
  const hash = createHash('sha256').update(path).digest('hex').slice(0, 8);
  const head = slug.slice(0, room).replace(/-+$/, '');
  return `${VOLUME_NAME_PREFIX}${head === '' ? 'path' : head}--${hash}`;
}

export const readOnlyRootFilesystem: Control = {
  id: 'read-only-root-filesystem',
  coversEphemeralContainers: true,
  linuxOnly: 'the API forbids readOnlyRootFilesystem',
  apply(
    draft: Pod,
    scope: ControlScope,
    {
      writablePaths,
      writableVolumeSizeLimit,
      profileWritablePaths,
    }: Pick<ControlInputs, 'writablePaths' | 'writableVolumeSizeLimit' | 'profileWritablePaths'>,
  ) {
    const rec = new DraftRecorder('read-only-root-filesystem');
    const spec = draft.spec as object & { volumes?: Volume[] };
    const chosenVolume = new Map<string, string | undefined>();
    // One index of the pod's volumes instead of a scan per path and candidate name.
    const volumesByName = new Map<string, Volume>();
    for (const volume of spec.volumes ?? [])
      if (!volumesByName.has(volume.name)) volumesByName.set(volume.name, volume);

    const volumeFor = (path: string, profile: string | undefined): string | undefined => {
      if (chosenVolume.has(path)) return chosenVolume.get(path);
      const base = volumeBaseName(path);
      let name: string | undefined;
      for (let n = 1; ; n++) {
        const candidate = n === 1 ? base : `${base}--${n}`;
        const existing = volumesByName.get(candidate);
        if (existing?.emptyDir) {
          name = candidate;
          break;
        }
        if (existing) continue;
        if (scope.podLevel) {
          const volume: Volume = {
            name: candidate,
            emptyDir: { sizeLimit: writableVolumeSizeLimit },
          };
          rec.append(spec, '/spec', ['volumes'], volume, 'pod', profile);
          volumesByName.set(candidate, volume);
          name = candidate;
        }
        break;
      }
      chosenVolume.set(path, name);
      return name;
    };

    for (const ref of scope.targets) {
      const explicit = ref.container.securityContext?.readOnlyRootFilesystem;
      if (explicit === false) {
        rec.skip(ref.name, 'readOnlyRootFilesystem: false; left as set');
        continue;
      }
      if (explicit !== true) {
        rec.fill(ref.container, ref.pointer, ['securityContext', 'readOnlyRootFilesystem'], true, ref.name);
      }
      // Normalised the way the writable paths are, so `/tmp/` or `/var//run` count as already mounted.
      const mounted = new Set(
        (ref.container.volumeMounts ?? []).map((m) => normaliseMountPath(m.mountPath) ?? m.mountPath),
      );
      const fromProfile = profileWritablePaths.get(ref.pointer);
      const paths: [string, string | undefined][] = writablePaths.map((path) => [path, undefined]);
      for (const path of fromProfile?.value ?? []) paths.push([path, fromProfile?.profile]);
      for (const [path, profile] of paths) {
        if (mounted.has(path)) continue;
        const volume = volumeFor(path, profile);
        if (volume === undefined) {
          rec.skip(ref.name, `no writable volume for ${path}: volumes cannot be added to a running pod`);
          continue;
        }
        const mount = { name: volume, mountPath: path };
        rec.append(ref.container, ref.pointer, ['volumeMounts'], mount, ref.name, profile);
      }
    }
    return rec.result();
  },
};
