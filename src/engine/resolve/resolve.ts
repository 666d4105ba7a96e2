import path from 'node:path';
import { isControlId, type ControlId } from '../controls/ids.js';
import type { NamespaceLookup } from './namespace.js';
import { isMode, type EngineSettings, type Mode, type ResourceDefaults } from './settings.js';
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
  readonly runAsGroup: number;
  readonly fsGroup: number;
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

export type NamespaceDecision =
  | { readonly optedIn: false }
  | {
      readonly optedIn: true;
      readonly mode: Mode;
      readonly allowOptOut: boolean;
      readonly warnings: string[];
    };

/**
 * The server re-checks the opt-in label itself so that a webhook configuration with a wrong
 * namespaceSelector cannot harden namespaces that never asked for it.
 */
export function decideNamespace(
  lookup: NamespaceLookup,
  namespaceName: string,
  settings: EngineSettings,
): NamespaceDecision {
  const keys = keysFor(settings.annotationPrefix);
  switch (lookup.kind) {
    case 'off':
    case 'failed':
      return { optedIn: true, mode: settings.defaultMode, allowOptOut: true, warnings: [] };
    case 'not-found':
      return { optedIn: false };
    case 'found':
      break;
  }
  const { labels, annotations } = lookup.namespace;
  if (labels[keys.enabled] !== 'true') return { optedIn: false };
  const warnings: string[] = [];
  let mode = settings.defaultMode;
  const modeValue = annotations[keys.mode];
  if (modeValue !== undefined) {
    if (isMode(modeValue)) mode = modeValue;
    else
      warnings.push(
        `namespace ${namespaceName}: ${keys.mode}=${quoteShort(modeValue)} is not enforce, warn or audit; using ${mode}`,
      );
  }
  const allowValue = annotations[keys.allowOptOut];
  if (allowValue !== undefined && allowValue !== 'true' && allowValue !== 'false') {
    // Fail closed: a typo must not silently let pods relax hardening.
    warnings.push(
      `namespace ${namespaceName}: ${keys.allowOptOut}=${quoteShort(allowValue)} is not "true" or "false"; opt-outs are not allowed`,
    );
  }
  return { optedIn: true, mode, allowOptOut: allowValue === undefined || allowValue === 'true', warnings };
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
  const uidValue = annotations[keys.runAsUser];
  if (uidValue !== undefined) {
    if (/^[1-9][0-9]{0,9}$/.test(uidValue) && Number(uidValue) <= 2147483647) runAsUser = Number(uidValue);
    else
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
      runAsGroup: settings.runAsGroup,
      fsGroup: settings.fsGroup,
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

/** Absolute POSIX path without `..`, trailing slash or `:` (the API rejects `:` in mountPath on some paths). */
export function normaliseMountPath(raw: string): string | undefined {
  if (!raw.startsWith('/') || raw.includes(':') || raw.includes('\0') || raw.length > 1024) return undefined;
  if (raw.split('/').includes('..')) return undefined;
  const normalised = path.posix.normalize(raw).replace(/\/+$/, '');
  return normalised === '' ? undefined : normalised;
}

/** The first `max` entries of a list annotation, with one warning when there were more. */
function readList(key: string, value: string, max: number, warnings: string[]): string[] {
  const entries = splitList(value, max + 1);
  if (entries.length <= max) return entries;
  warnings.push(`${key}: only the first ${max} entries are read; the rest are ignored`);
  return entries.slice(0, max);
}

/**
 * The first `max` non-empty, trimmed entries of a comma list. Stops scanning once it has them, so an
 * annotation of a hundred thousand entries costs no more than one of `max`.
 */
function splitList(value: string, max: number): string[] {
  const entries: string[] = [];
  let start = 0;
  while (start <= value.length && entries.length < max) {
    let end = value.indexOf(',', start);
    if (end < 0) end = value.length;
    const entry = value.slice(start, end).trim();
    if (entry !== '') entries.push(entry);
    start = end + 1;
  }
  return entries;
}

const KERNEL_FILESYSTEMS = ['/proc', '/sys', '/dev'];
/** Directories whose contents every image needs: an empty directory over one leaves nothing to run. */
const SYSTEM_DIRECTORIES = new Set(['/etc', '/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']);
/** Files the kubelet mounts into every container. */
const KUBELET_FILES = new Set(['/etc/hosts', '/etc/hostname', '/etc/resolv.conf']);
const SERVICE_ACCOUNT_MOUNTS = [
  '/var/run/secrets/kubernetes.io/serviceaccount',
  '/run/secrets/kubernetes.io/serviceaccount',
];
/** Between /run and the token: an emptyDir there would be mounted over the token's parents. */
const SERVICE_ACCOUNT_PARENTS = new Set([
  '/var/run/secrets',
  '/var/run/secrets/kubernetes.io',
  '/run/secrets',
  '/run/secrets/kubernetes.io',
]);

const isAtOrBelow = (candidate: string, dir: string): boolean =>
  candidate === dir || candidate.startsWith(`${dir}/`);

/**
 * Why a writable path would break or weaken the container, or undefined when it is safe. An emptyDir
 * over a kernel filesystem or a system directory makes a container that cannot start; over the
 * service-account mount (or a directory between /run and it) it hides or replaces the token.
 */
export function unsafeWritablePath(normalised: string): string | undefined {
  if (KERNEL_FILESYSTEMS.some((dir) => isAtOrBelow(normalised, dir)))
    return 'an emptyDir there would hide a kernel filesystem the runtime mounts';
  if (SYSTEM_DIRECTORIES.has(normalised)) return 'an emptyDir there would hide what the image needs to run';
  if (KUBELET_FILES.has(normalised)) return 'the kubelet mounts that file into every container';
  if (
    SERVICE_ACCOUNT_PARENTS.has(normalised) ||
    SERVICE_ACCOUNT_MOUNTS.some((m) => isAtOrBelow(normalised, m))
  )
    return 'an emptyDir there would hide the service-account token';
  return undefined;
}

/** Quotes a user-supplied value for a message, cut short so warnings stay under the API's size limit. */
export function quoteShort(value: string, max = 40): string {
  return JSON.stringify(value.length > max ? `${value.slice(0, max)}...` : value);
}
