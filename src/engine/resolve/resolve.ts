import { isControlId, type ControlId } from '../controls/ids.js';
import type { EngineSettings, ImageProfile, Mode, ResourceDefaults } from './settings.js';
import { matchesImageGlob } from './image-glob.js';
import { normaliseMountPath } from '../pod/mount-path.js';
import { quoteShort, readList } from './lists.js';
import { unsafeWritablePath } from './writable-paths.js';
import type { Pod } from '../pod/model.js';
import { CONTAINER_LISTS } from '../pod/model.js';
import { MAX_SKIP_CONTROLS_ENTRIES, MAX_WRITABLE_PATHS } from '../pod/limits.js';
import { EMPTY_CHANGES_RECORD, parseChangesRecord, type ChangesRecord } from '../record/changes.js';
import { keysFor, type Keys } from './keys.js';

/** Everything the controls need to know, resolved once per review from config, namespace and pod. */
export interface ResolvedPolicy {
  readonly keys: Keys;
  readonly mode: Mode;
  /** Controls off for the whole pod (configuration or pod opt-out). */
  readonly disabledControls: ReadonlySet<ControlId>;
  /** Controls off for one container, by container name. */
  readonly disabledForContainer: ReadonlyMap<string, ReadonlySet<ControlId>>;
  readonly runAsUser: number;
  /** Whether `runAsUser` came from the pod's run-as-user annotation, which wins over a profile's. */
  readonly runAsUserFromAnnotation: boolean;
  readonly runAsGroup: number;
  readonly fsGroup: number;
  /**
   * The image profile that applies to each container, by the container's JSON pointer
   * (`/spec/containers/0`): the first profile one of whose globs matches its image.
   */
  readonly profiles: ReadonlyMap<string, ImageProfile>;
  /** `/tmp` first, then the pod's writable-paths, normalised and without duplicates. */
  readonly writablePaths: readonly string[];
  readonly writableVolumeSizeLimit: string;
  readonly resources: ResourceDefaults;
  /** Opt-outs that were honoured, in annotation order, as written (`control` or `container/control`). */
  readonly optOuts: readonly string[];
  /**
   * What earlier passes of ours recorded in the `changes` annotation (reinvocation); empty unless the
   * record's seal was verified.
   */
  readonly earlierChanges: ChangesRecord;
  /**
   * Whether the record annotations on the pod are ours (sealed for this request). When not, any the
   * pod carries are the author's, and enforce mode removes them.
   */
  readonly recordTrusted: boolean;
  /** Pod opt-out annotations present but refused because the namespace does not allow opt-outs. */
  readonly refusedOptOuts: readonly string[];
  /** Problems with annotations: reported to the user, never a failure. */
  readonly warnings: readonly string[];
}

/** The first profile one of whose globs matches the image, if any. */
export function profileForImage(
  profiles: readonly ImageProfile[],
  image: string | undefined,
): ImageProfile | undefined {
  if (image === undefined || image === '') return undefined;
  return profiles.find((profile) => profile.images.some((glob) => matchesImageGlob(glob, image)));
}

/** The profile of every container whose image one matches, by the container's JSON pointer. */
function containerProfiles(profiles: readonly ImageProfile[], pod: Pod): Map<string, ImageProfile> {
  const found = new Map<string, ImageProfile>();
  if (profiles.length === 0) return found;
  const byImage = new Map<string, ImageProfile | undefined>();
  for (const list of CONTAINER_LISTS) {
    (pod.spec?.[list] ?? []).forEach((container, index) => {
      const image = typeof container.image === 'string' ? container.image : undefined;
      if (image === undefined) return;
      if (!byImage.has(image)) byImage.set(image, profileForImage(profiles, image));
      const profile = byImage.get(image);
      if (profile) found.set(`/spec/${list}/${index}`, profile);
    });
  }
  return found;
}

export function isControlEnabled(policy: ResolvedPolicy, control: ControlId, container?: string): boolean {
  if (policy.disabledControls.has(control)) return false;
  if (container === undefined) return true;
  return !(policy.disabledForContainer.get(container)?.has(control) ?? false);
}

/** Whether any container name, present in the pod or not, opted out of the control. */
export function hasContainerOptOut(policy: ResolvedPolicy, control: ControlId): boolean {
  for (const controls of policy.disabledForContainer.values()) if (controls.has(control)) return true;
  return false;
}

export type PolicyResolution =
  | { readonly skipPod: true; readonly optOuts: readonly string[] }
  | { readonly skipPod: false; readonly policy: ResolvedPolicy };

export function resolvePolicy(
  settings: EngineSettings,
  namespace: { readonly mode: Mode; readonly allowOptOut: boolean; readonly warnings: readonly string[] },
  pod: Pod,
  recordTrusted = false,
): PolicyResolution {
  const keys = keysFor(settings.annotationPrefix);
  const annotations = pod.metadata?.annotations ?? {};
  const warnings = [...namespace.warnings];
  const disabledControls = new Set<ControlId>(settings.disabledControls);
  const disabledForContainer = new Map<string, Set<ControlId>>();
  const optOuts: string[] = [];
  const refusedOptOuts: string[] = [];

  const skipValue = annotations[keys.skip];
  const skipControlsValue = annotations[keys.skipControls];
  if (!namespace.allowOptOut) {
    for (const key of [keys.skip, keys.skipControls]) {
      if (annotations[key] !== undefined) {
        warnings.push(`${key} ignored: this namespace does not allow opt-outs`);
        refusedOptOuts.push(key);
      }
    }
  } else {
    if (skipValue === 'true') return { skipPod: true, optOuts: [keys.skip] };
    if (skipValue !== undefined && skipValue !== 'false') {
      warnings.push(`${keys.skip}=${quoteShort(skipValue)} ignored: only "true" skips the pod`);
    }
    if (skipControlsValue !== undefined) {
      const containerNames = new Set(
        CONTAINER_LISTS.flatMap((list) => (pod.spec?.[list] ?? []).map((c) => c.name)),
      );
      const honoured = new Set<string>();
      for (const entry of readList(
        keys.skipControls,
        skipControlsValue,
        MAX_SKIP_CONTROLS_ENTRIES,
        warnings,
      )) {
        const slash = entry.lastIndexOf('/');
        const container = slash >= 0 ? entry.slice(0, slash) : undefined;
        const control = slash >= 0 ? entry.slice(slash + 1) : entry;
        if (!isControlId(control)) {
          warnings.push(`${keys.skipControls}: unknown control ${quoteShort(control)} ignored`);
          continue;
        }
        if (container === undefined) {
          disabledControls.add(control);
        } else {
          if (!containerNames.has(container)) {
            warnings.push(`${keys.skipControls}: no container named ${quoteShort(container)} in this pod`);
          }
          let set = disabledForContainer.get(container);
          if (!set) disabledForContainer.set(container, (set = new Set()));
          set.add(control);
        }
        honoured.add(entry);
      }
      optOuts.push(...honoured);
    }
  }

  let runAsUser = settings.runAsUser;
  let runAsUserFromAnnotation = false;
  const uidValue = annotations[keys.runAsUser];
  if (uidValue !== undefined) {
    if (/^[1-9][0-9]{0,9}$/.test(uidValue) && Number(uidValue) <= 2147483647) {
      runAsUser = Number(uidValue);
      runAsUserFromAnnotation = true;
    } else
      warnings.push(
        `${keys.runAsUser}=${quoteShort(uidValue)} is not a positive integer UID; using ${runAsUser}`,
      );
  }

  const writablePaths = new Set(['/tmp']);
  const pathsValue = annotations[keys.writablePaths];
  if (pathsValue !== undefined) {
    for (const entry of readList(keys.writablePaths, pathsValue, MAX_WRITABLE_PATHS, warnings)) {
      const normalised = normaliseMountPath(entry);
      const refusal = normalised === undefined ? undefined : unsafeWritablePath(normalised);
      if (normalised === undefined) {
        warnings.push(`${keys.writablePaths}: ${quoteShort(entry)} ignored: not an absolute path below /`);
      } else if (refusal !== undefined) {
        warnings.push(`${keys.writablePaths}: ${quoteShort(entry)} ignored: ${refusal}`);
      } else {
        writablePaths.add(normalised);
      }
    }
  }

  return {
    skipPod: false,
    policy: {
      keys,
      mode: namespace.mode,
      disabledControls,
      disabledForContainer,
      runAsUser,
      runAsUserFromAnnotation,
      runAsGroup: settings.runAsGroup,
      fsGroup: settings.fsGroup,
      profiles: containerProfiles(settings.imageProfiles, pod),
      writablePaths: [...writablePaths],
      writableVolumeSizeLimit: settings.writableVolumeSizeLimit,
      resources: settings.resources,
      optOuts,
      earlierChanges: recordTrusted ? parseChangesRecord(annotations[keys.changes]) : EMPTY_CHANGES_RECORD,
      recordTrusted,
      refusedOptOuts,
      warnings,
    },
  };
}
