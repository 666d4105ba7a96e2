/**
 * Property tests of the hardening engine over generated pods (test/support/arbitraries.ts). Each
 * property is one promise pod-hardener makes, most of them a pitfall from /work/shared/pitfalls.md.
 * Runs are deterministic: every assert has a fixed seed.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import jsonPatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import { CONTROL_IDS, type ControlId } from '../../src/engine/controls/ids.js';
import type { Change } from '../../src/engine/controls/types.js';
import { visitContainers } from '../../src/engine/controls/visitor.js';
import type { AdmissionReview } from '../../src/engine/review/envelope.js';
import { admissionReview } from '../support/admission-review.js';
import { harden, newEphemeralContainers, type HardenResult } from '../../src/engine/harden/harden.js';
import { LOOKUPS_OFF } from '../../src/engine/resolve/namespace.js';
import { checkRestricted } from '../../src/engine/pod-security/restricted.js';
import type { SealSubject } from '../../src/engine/record/seal.js';
import { reviewAdmission } from '../../src/engine/review/review.js';
import {
  DEFAULT_ENGINE_SETTINGS,
  type EngineSettings,
  type ImageProfile,
} from '../../src/engine/resolve/settings.js';
import {
  CONTAINER_LISTS,
  isWindowsPod,
  type Container,
  type ContainerList,
  type Pod,
} from '../../src/engine/pod/model.js';
import { linuxOnlyFields } from '../../src/engine/pod/windows.js';
import { TEST_NOW_MS, TEST_SEALER } from '../support/seal.js';
import { isControlEnabled, resolvePolicy, type ResolvedPolicy } from '../../src/engine/resolve/resolve.js';
import { compareQuantityText } from '../../src/engine/pod/quantity.js';
import { ephemeralContainerArb, INJECTED, injectedContainerArb, podArb } from '../support/arbitraries.js';

/** Fixed for CI; PROPERTY_SEED and PROPERTY_RUNS explore further without editing the file. */
const RUNS = {
  seed: Number(process.env.PROPERTY_SEED ?? 0x5eed_4a7d),
  numRuns: Number(process.env.PROPERTY_RUNS ?? 300),
};

const CHANGES_KEY = 'pod-hardener.io/changes';
const OPT_OUTS_KEY = 'pod-hardener.io/opt-outs';
const SEAL_KEY = 'pod-hardener.io/changes-seal';
const OWN_ANNOTATIONS = new Set([CHANGES_KEY, OPT_OUTS_KEY, SEAL_KEY]);
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

// ---------------------------------------------------------------------------------------------------
// Helpers

/** What the review pipeline binds a seal to, for one request of this pod. */
function sealSubject(pod: Pod, changes: string, optOuts: string | undefined): SealSubject {
  const { name = '', generateName = '' } = pod.metadata ?? {};
  return { namespace: 'team-a', name, generateName, username: '', dryRun: false, changes, optOuts };
}

/** Whether the pod's record was sealed by our own earlier pass, as the review pipeline checks it. */
function recordTrusted(pod: Pod): boolean {
  const annotations = pod.metadata?.annotations ?? {};
  const subject = sealSubject(pod, annotations[CHANGES_KEY] ?? '', annotations[OPT_OUTS_KEY]);
  return TEST_SEALER.verify(subject, annotations[SEAL_KEY], TEST_NOW_MS);
}

/** The policy the review pipeline would build for this pod; undefined when the pod opts out entirely. */
function policyFor(pod: Pod): ResolvedPolicy | undefined {
  const resolution = resolvePolicy(
    DEFAULT_ENGINE_SETTINGS,
    { mode: 'enforce', allowOptOut: true, warnings: [] },
    pod,
    recordTrusted(pod),
  );
  return resolution.skipPod ? undefined : resolution.policy;
}

/** Resolves the policy and hardens; discards (fc.pre) pods that skip themselves. */
function hardenPod(pod: Pod, oldPod?: Pod): { policy: ResolvedPolicy; result: HardenResult } {
  const policy = policyFor(pod);
  fc.pre(policy !== undefined);
  const sealRecord = (changes: string, optOuts: string | undefined): string =>
    TEST_SEALER.seal(sealSubject(pod, changes, optOuts), TEST_NOW_MS);
  // The review computes the new ephemeral containers once and hands them to harden().
  const newEphemeral = oldPod === undefined ? undefined : new Set(newEphemeralContainers(pod, oldPod));
  return { policy, result: harden(pod, policy, { ...(newEphemeral ? { newEphemeral } : {}), sealRecord }) };
}

interface Listed {
  readonly list: ContainerList;
  readonly index: number;
  readonly container: Container;
}

function containersOf(pod: Pod): Listed[] {
  return CONTAINER_LISTS.flatMap((list) =>
    (pod.spec?.[list] ?? []).map((container: Container, index: number) => ({ list, index, container })),
  );
}

function byName(pod: Pod, name: string): Container | undefined {
  return containersOf(pod).find((c) => c.container.name === name)?.container;
}

function trimSlash(mountPath: string): string {
  return mountPath.length > 1 ? mountPath.replace(/\/+$/, '') : mountPath;
}

function escapeSegment(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** JSON pointers of every leaf of `value` placed at `pointer` (an empty object or array is a leaf). */
function leafPointers(value: unknown, pointer: string): string[] {
  if (value === null || typeof value !== 'object') return [pointer];
  const entries: [string, unknown][] = Array.isArray(value)
    ? value.map((v, i): [string, unknown] => [String(i), v])
    : Object.entries(value);
  if (entries.length === 0) return [pointer];
  return entries.flatMap(([key, v]) => leafPointers(v, `${pointer}/${escapeSegment(key)}`));
}

/** Leaves an operation touches: the leaves of its value for add/replace, its path otherwise. */
function opLeaves(op: Operation): string[] {
  return op.op === 'add' || op.op === 'replace' ? leafPointers(op.value, op.path) : [op.path];
}

function isUnder(pointer: string, base: string): boolean {
  return pointer === base || pointer.startsWith(`${base}/`);
}

function isOwnAnnotationLeaf(pointer: string): boolean {
  return [...OWN_ANNOTATIONS].some((key) => isUnder(pointer, `/metadata/annotations/${escapeSegment(key)}`));
}

function getPointer(doc: unknown, pointer: string): unknown {
  try {
    return jsonPatch.getValueByPointer(doc, pointer);
  } catch {
    return undefined;
  }
}

/** What the API server would do with the patch: JSON on the wire, validated RFC 6902 application. */
function applyAsApiServer(pod: Pod, patch: readonly Operation[]): Pod {
  const wire = JSON.parse(JSON.stringify(patch)) as Operation[];
  return jsonPatch.applyPatch(structuredClone(pod), wire, true).newDocument;
}

/**
 * What a pod marked Windows by any signal (spec.os.name, nodeSelector, required affinity) must not get:
 * a Linux-only field it did not already carry, or our /tmp emptyDir. A pod that carried none of them and
 * did not opt out of run-as-non-root must also end up with spec.os.name windows, so that Pod Security
 * and the API judge it as Windows.
 */
function windowsProblems(input: Pod, result: Pod, policy?: ResolvedPolicy): string[] {
  if (!isWindowsPod(input)) return [];
  const problems: string[] = [];
  const before = new Set(linuxOnlyFields(input));
  for (const field of linuxOnlyFields(result))
    if (!before.has(field)) problems.push(`windows pod: ${field} added`);
  const volumesBefore = new Set((input.spec?.volumes ?? []).map((v) => v.name));
  for (const volume of result.spec?.volumes ?? [])
    if (!volumesBefore.has(volume.name)) problems.push(`windows pod: volume ${volume.name} added`);
  for (const { list, index, container } of containersOf(result)) {
    const mountsBefore = input.spec?.[list]?.[index]?.volumeMounts?.length ?? 0;
    if ((container.volumeMounts ?? []).length > mountsBefore)
      problems.push(`windows pod: mount added to ${container.name}`);
  }
  const runAsNonRootForPod = policy !== undefined && !policy.disabledControls.has('run-as-non-root');
  if (runAsNonRootForPod && before.size === 0 && result.spec?.os?.name !== 'windows')
    problems.push(`windows pod without Linux-only fields left without spec.os.name windows`);
  return problems;
}

/**
 * What the API server would reject in `result` that `input` did not already contain. Returns readable
 * problems rather than asserting, so a failure names every one at once.
 */
function apiProblems(input: Pod, result: Pod): string[] {
  const problems: string[] = [];
  const volumes = result.spec?.volumes ?? [];
  const volumeNames = volumes.map((v) => v.name);
  const inputVolumeNames = new Set((input.spec?.volumes ?? []).map((v) => v.name));
  const duplicates = volumeNames.filter((n, i) => volumeNames.indexOf(n) !== i);
  if (duplicates.length > 0) problems.push(`duplicate volume names ${duplicates.join(', ')}`);
  for (const name of volumeNames) {
    if (!inputVolumeNames.has(name) && !(name.length <= 63 && DNS_LABEL.test(name)))
      problems.push(`added volume name ${JSON.stringify(name)} is not a DNS label`);
  }

  for (const { list, container } of containersOf(result)) {
    const where = `${list} ${container.name}`;
    for (const resource of ['cpu', 'memory']) {
      const request = container.resources?.requests?.[resource];
      const limit = container.resources?.limits?.[resource];
      if (request !== undefined && limit !== undefined) {
        const order = compareQuantityText(request, limit);
        if (order === undefined || order > 0)
          problems.push(`${where}: ${resource} request ${request} above limit ${limit}`);
      }
    }
    const sc = container.securityContext;
    if (sc?.allowPrivilegeEscalation === false) {
      if (sc.privileged === true) problems.push(`${where}: allowPrivilegeEscalation false with privileged`);
      if ((sc.capabilities?.add ?? []).some((c) => c === 'SYS_ADMIN' || c === 'CAP_SYS_ADMIN'))
        problems.push(`${where}: allowPrivilegeEscalation false with SYS_ADMIN`);
    }
    const paths = (container.volumeMounts ?? []).map((m) => trimSlash(m.mountPath));
    const repeated = paths.filter((p, i) => paths.indexOf(p) !== i);
    if (repeated.length > 0) problems.push(`${where}: mountPath repeated: ${repeated.join(', ')}`);
    for (const mount of container.volumeMounts ?? []) {
      if (!volumeNames.includes(mount.name))
        problems.push(`${where}: mount ${mount.mountPath} names missing volume ${mount.name}`);
    }
    if (list === 'ephemeralContainers' && container.resources !== undefined) {
      const { requests, limits } = container.resources;
      if (Object.keys(requests ?? {}).length + Object.keys(limits ?? {}).length > 0)
        problems.push(`${where}: ephemeral container has resources`);
    }
  }

  // With spec.os.name windows the API validates the whole pod as Windows, whoever set the name.
  if (result.spec?.os?.name === 'windows')
    for (const field of linuxOnlyFields(result)) problems.push(`windows pod: ${field} set`);
  problems.push(...windowsProblems(input, result));
  return problems;
}

/**
 * Every field set in `input` keeps its value in `output`; arrays only grow at the end. Our own audit
 * annotations are the one exception: they are ours to rewrite.
 */
function overwrites(input: unknown, output: unknown, pointer = ''): string[] {
  if (input === undefined || input === null) return [];
  if (Array.isArray(input)) {
    if (!Array.isArray(output) || output.length < input.length)
      return [`${pointer}: array ${JSON.stringify(input)} became ${JSON.stringify(output)}`];
    return input.flatMap((v: unknown, i) => overwrites(v, output[i], `${pointer}/${i}`));
  }
  if (typeof input === 'object') {
    if (output === null || typeof output !== 'object' || Array.isArray(output))
      return [`${pointer}: object became ${JSON.stringify(output)}`];
    const out = output as Record<string, unknown>;
    return Object.entries(input).flatMap(([key, v]) =>
      pointer === '/metadata/annotations' && OWN_ANNOTATIONS.has(key)
        ? []
        : overwrites(v, out[key], `${pointer}/${escapeSegment(key)}`),
    );
  }
  return input === output ? [] : [`${pointer}: ${JSON.stringify(input)} became ${JSON.stringify(output)}`];
}

/** Containers running as root (uid 0, or ContainerAdministrator) that end up under runAsNonRoot: true. */
function unstartable(input: Pod, result: Pod): string[] {
  const problems: string[] = [];
  const effective = (pod: Pod, name: string) => {
    const own = byName(pod, name)?.securityContext;
    const podContext = pod.spec?.securityContext;
    return {
      runAsUser: own?.runAsUser ?? podContext?.runAsUser,
      runAsNonRoot: own?.runAsNonRoot ?? podContext?.runAsNonRoot,
      windowsUser: own?.windowsOptions?.runAsUserName ?? podContext?.windowsOptions?.runAsUserName,
    };
  };
  for (const { container } of containersOf(result)) {
    const after = effective(result, container.name);
    const root = after.runAsUser === 0 || after.windowsUser === 'ContainerAdministrator';
    if (!root || after.runAsNonRoot !== true) continue;
    if (byName(input, container.name) !== undefined && effective(input, container.name).runAsNonRoot === true)
      continue;
    problems.push(`${container.name} runs as root and got runAsNonRoot: true`);
  }
  return problems;
}

/** Explicit values that Pod Security "restricted" rejects and the engine must leave as set. */
function explicitInsecureValues(pod: Pod, policy: ResolvedPolicy): string[] {
  const found: string[] = [];
  const spec = pod.spec;
  // Only spec.os.name makes Pod Security judge a pod as Windows; it cannot be filled next to these.
  if (isWindowsPod(pod) && spec?.os?.name !== 'windows' && linuxOnlyFields(pod).length > 0)
    found.push('Windows by selector with Linux-only fields');
  if (spec?.hostNetwork === true) found.push('hostNetwork');
  const podContext = spec?.securityContext;
  if (podContext?.runAsNonRoot === false) found.push('pod runAsNonRoot false');
  if (podContext?.runAsUser === 0) found.push('pod runAsUser 0');
  if (podContext?.seccompProfile?.type === 'Unconfined') found.push('pod seccomp Unconfined');
  if (podContext?.windowsOptions?.runAsUserName === 'ContainerAdministrator')
    found.push('pod ContainerAdministrator');
  for (const { container } of containersOf(pod)) {
    const sc = container.securityContext;
    if (sc?.privileged === true) found.push(`${container.name} privileged`);
    if (sc?.allowPrivilegeEscalation === true) found.push(`${container.name} allowPrivilegeEscalation`);
    if (sc?.runAsNonRoot === false) found.push(`${container.name} runAsNonRoot false`);
    if (sc?.runAsUser === 0) found.push(`${container.name} runAsUser 0`);
    if ((sc?.capabilities?.add ?? []).some((c) => c !== 'NET_BIND_SERVICE'))
      found.push(`${container.name} capabilities.add`);
    if (sc?.seccompProfile?.type === 'Unconfined') found.push(`${container.name} seccomp Unconfined`);
    if (sc?.windowsOptions?.runAsUserName === 'ContainerAdministrator')
      found.push(`${container.name} ContainerAdministrator`);
  }
  // Opt-outs that reach something: a whole control, or a container the pod really has.
  if (policy.disabledControls.size > 0) found.push('opt-out');
  for (const name of policy.disabledForContainer.keys())
    if (byName(pod, name) !== undefined) found.push(`${name} opt-out`);
  return found;
}

/**
 * A second, independent reading of "restricted" (same check ids as checkRestricted), so that a check
 * missing from checkRestricted cannot hide a gap: `target` is the container whose effective value fails,
 * whether the value is its own or inherited from the pod.
 */
function restrictedByHand(pod: Pod): { target: string; check: string }[] {
  const found: { target: string; check: string }[] = [];
  const podContext = pod.spec?.securityContext;
  const windows = pod.spec?.os?.name === 'windows';
  if (pod.spec?.hostNetwork === true) found.push({ target: 'pod', check: 'host-namespaces' });
  for (const { container } of containersOf(pod)) {
    const sc = container.securityContext;
    const fail = (check: string): void => {
      found.push({ target: container.name, check });
    };
    if (sc?.privileged === true) fail('privileged');
    if (!windows) {
      if (sc?.allowPrivilegeEscalation !== false) fail('allow-privilege-escalation');
      if (!(sc?.capabilities?.drop ?? []).includes('ALL')) fail('capabilities');
      if ((sc?.capabilities?.add ?? []).some((c) => c !== 'NET_BIND_SERVICE')) fail('capabilities');
      const seccomp = (sc?.seccompProfile ?? podContext?.seccompProfile)?.type;
      if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') fail('seccomp');
    }
    if ((sc?.runAsNonRoot ?? podContext?.runAsNonRoot) !== true) fail('run-as-non-root');
    if ((sc?.runAsUser ?? podContext?.runAsUser) === 0) fail('run-as-user');
  }
  return found;
}

/** What a container gets from one control, directly or inherited from the pod level. */
function controlledValues(pod: Pod, name: string, control: ControlId): unknown {
  const container = byName(pod, name);
  const sc = container?.securityContext;
  const podContext = pod.spec?.securityContext;
  switch (control) {
    case 'run-as-non-root':
      return [
        sc?.runAsNonRoot ?? podContext?.runAsNonRoot,
        sc?.runAsUser ?? podContext?.runAsUser,
        sc?.runAsGroup ?? podContext?.runAsGroup,
        sc?.windowsOptions?.runAsUserName ?? podContext?.windowsOptions?.runAsUserName,
        podContext?.fsGroup,
        podContext?.fsGroupChangePolicy,
      ];
    case 'drop-all-capabilities':
      return sc?.capabilities;
    case 'no-privilege-escalation':
      return sc?.allowPrivilegeEscalation;
    case 'read-only-root-filesystem':
      return [sc?.readOnlyRootFilesystem, container?.volumeMounts];
    case 'seccomp-runtime-default':
      return sc?.seccompProfile ?? podContext?.seccompProfile;
    case 'default-resources':
      return container?.resources;
  }
}

/** Containers that opted out of a control but still got something from it (property 11). */
function optOutProblems(input: Pod, result: HardenResult, policy: ResolvedPolicy): string[] {
  const problems: string[] = [];
  for (const { container } of containersOf(input)) {
    for (const control of CONTROL_IDS) {
      if (isControlEnabled(policy, control, container.name)) continue;
      const before = JSON.stringify(controlledValues(input, container.name, control));
      const after = JSON.stringify(controlledValues(result.draft, container.name, control));
      if (before !== after) problems.push(`${container.name} opted out of ${control}: ${before} -> ${after}`);
      for (const change of result.changes)
        if (change.control === control && change.target === container.name)
          problems.push(`${container.name} opted out of ${control} but ${change.path} was set`);
    }
  }
  return problems;
}

function createReview(pod: Pod): AdmissionReview {
  return admissionReview(structuredClone(pod));
}

/** The audit record's entries, and how many it says it left out. */
function changesRecord(pod: Pod): { entries: unknown[]; truncated: number } {
  const text = pod.metadata?.annotations?.[CHANGES_KEY];
  if (text === undefined) return { entries: [], truncated: 0 };
  const parsed: unknown = JSON.parse(text);
  expect(parsed, 'changes annotation').to.be.an('array');
  const entries: unknown[] = [];
  let truncated = 0;
  for (const item of parsed as unknown[]) {
    const marker = (item as { truncated?: unknown }).truncated;
    if (typeof marker === 'number') truncated += marker;
    else entries.push(item);
  }
  return { entries, truncated };
}

function asEntries(changes: readonly Change[]): unknown[] {
  return changes.map(({ control, target, path, value }) => ({ control, target, path, value }));
}

/**
 * Replays recorded changes onto `pod` the way the record reads: set the field at `path` (creating
 * missing parent objects), or append when `path` ends one past an array's end. Throws when a record
 * cannot be replayed.
 */
function replay(pod: Pod, changes: readonly { path: string; value: unknown }[]): Pod {
  const doc = structuredClone(pod) as unknown as Record<string, unknown>;
  for (const { path, value } of changes) {
    const segments = path
      .split('/')
      .slice(1)
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    let parent: Record<string, unknown> | unknown[] = doc;
    for (const segment of segments.slice(0, -1)) {
      const next: unknown = Array.isArray(parent) ? parent[Number(segment)] : parent[segment];
      if (next !== null && typeof next === 'object') {
        parent = next as Record<string, unknown> | unknown[];
      } else if (Array.isArray(parent)) {
        throw new Error(`${path}: missing array element ${segment}`);
      } else {
        const created = {};
        parent[segment] = created;
        parent = created;
      }
    }
    const last = segments.at(-1)!;
    if (Array.isArray(parent)) {
      if (Number(last) !== parent.length)
        throw new Error(`${path}: not an append to length ${parent.length}`);
      parent.push(structuredClone(value));
    } else {
      if (parent[last] !== undefined && parent[last] !== null) throw new Error(`${path}: already set`);
      parent[last] = structuredClone(value);
    }
  }
  return doc;
}

/** A copy without our own annotations; an annotations map that held only those is dropped too. */
function withoutOwnAnnotations(pod: Pod): Pod {
  const copy = structuredClone(pod);
  const annotations = copy.metadata?.annotations;
  if (copy.metadata !== undefined && annotations !== undefined) {
    const kept = Object.entries(annotations).filter(([key]) => !OWN_ANNOTATIONS.has(key));
    copy.metadata.annotations = Object.fromEntries(kept);
  }
  return copy;
}

/** Problems with the patch/changes correspondence (property 7). */
function auditProblems(result: HardenResult): string[] {
  const problems: string[] = [];
  const changePaths = result.changes.map((c) => c.path);
  const covered = (leaf: string): boolean =>
    changePaths.some((path) => isUnder(leaf, path) || isUnder(path, leaf));
  for (const op of result.patch) {
    if (op.op !== 'add' && op.op !== 'replace') {
      problems.push(`unexpected ${op.op} ${op.path}`);
      continue;
    }
    for (const leaf of opLeaves(op)) {
      if (!isOwnAnnotationLeaf(leaf) && !covered(leaf))
        problems.push(`${op.op} ${op.path}: ${leaf} is in no recorded change`);
    }
  }
  const repeated = changePaths.filter((p, i) => changePaths.indexOf(p) !== i);
  if (repeated.length > 0) problems.push(`changes recorded twice: ${repeated.join(', ')}`);
  // A recorded array may have grown by later appends of the same pass, each recorded on its own: the
  // recorded elements must then be the start of the array (replay() checks the whole sequence).
  for (const change of result.changes) {
    const actual = getPointer(result.draft, change.path);
    const shown =
      Array.isArray(actual) && Array.isArray(change.value) ? actual.slice(0, change.value.length) : actual;
    if (JSON.stringify(shown) !== JSON.stringify(change.value))
      problems.push(
        `change ${change.path}=${JSON.stringify(change.value)} but pod has ${JSON.stringify(actual)}`,
      );
  }
  return problems;
}

/** Names of volumes in `pod` that `before` does not have, with every path a container mounts them at. */
function addedVolumePaths(before: Pod, pod: Pod): Map<string, Set<string>> {
  const existing = new Set((before.spec?.volumes ?? []).map((v) => v.name));
  const added = new Map<string, Set<string>>();
  for (const volume of pod.spec?.volumes ?? [])
    if (!existing.has(volume.name)) added.set(volume.name, new Set());
  for (const { container } of containersOf(pod))
    for (const mount of container.volumeMounts ?? []) added.get(mount.name)?.add(trimSlash(mount.mountPath));
  return added;
}

function describeOps(patch: readonly Operation[]): string[] {
  return patch.map((op) => `${op.op} ${op.path} ${'value' in op ? JSON.stringify(op.value) : ''}`);
}

function addTo(map: Map<string, Set<string>>, key: string, value: string): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(value);
}

/** Fails with every problem on its own line (chai would abbreviate the array). */
function none(problems: readonly string[], what: string): void {
  if (problems.length > 0) throw new Error(`${what}:\n  ${problems.join('\n  ')}`);
}

/**
 * The writable-path promise of read-only-root-filesystem: every mount the engine adds is at a writable
 * path and names an emptyDir; one emptyDir per path, shared by the containers that mount it; and every
 * container it made read-only can write at each writable path.
 */
function writablePathProblems(input: Pod, result: Pod, policy: ResolvedPolicy): string[] {
  const problems: string[] = [];
  const volumes = new Map((result.spec?.volumes ?? []).map((v) => [v.name, v]));
  const volumeForPath = new Map<string, Set<string>>();
  const pathsForVolume = new Map<string, Set<string>>();
  for (const { list, index, container } of containersOf(result)) {
    const rofsOn =
      !isWindowsPod(result) &&
      container.securityContext?.readOnlyRootFilesystem === true &&
      isControlEnabled(policy, 'read-only-root-filesystem', container.name);
    const before = input.spec?.[list]?.[index]?.volumeMounts?.length ?? 0;
    for (const mount of (container.volumeMounts ?? []).slice(before)) {
      const where = `${container.name} mount ${mount.mountPath}`;
      if (!rofsOn) problems.push(`${where}: added although the root filesystem is not read-only`);
      if (!policy.writablePaths.includes(mount.mountPath)) problems.push(`${where}: not a writable path`);
      if (volumes.get(mount.name)?.emptyDir === undefined)
        problems.push(`${where}: volume ${mount.name} is not an emptyDir`);
      addTo(volumeForPath, mount.mountPath, mount.name);
      addTo(pathsForVolume, mount.name, mount.mountPath);
    }
    // Ephemeral containers cannot get a volume the pod lacks; that case is reported, not fixed.
    if (rofsOn && list !== 'ephemeralContainers') {
      const mounted = new Set((container.volumeMounts ?? []).map((m) => trimSlash(m.mountPath)));
      for (const path of policy.writablePaths)
        if (!mounted.has(path)) problems.push(`${container.name}: read-only root and nothing at ${path}`);
    }
  }
  for (const [path, names] of volumeForPath)
    if (names.size > 1) problems.push(`${path} mounted from several volumes: ${[...names].join(', ')}`);
  for (const [name, paths] of pathsForVolume)
    if (paths.size > 1) problems.push(`volume ${name} mounted at several paths: ${[...paths].join(', ')}`);
  return problems;
}

// ---------------------------------------------------------------------------------------------------
// Properties

describe('engine/harden properties (generated pods)', () => {
  it('1. the patch applies cleanly and yields exactly the draft; the input is not mutated', () => {
    fc.assert(
      fc.property(podArb, (pod) => {
        const before = structuredClone(pod);
        const { result } = hardenPod(pod);
        expect(pod, 'input mutated').to.deep.equal(before);
        // The draft is pure JSON: nothing undefined that the wire would drop.
        expect(JSON.parse(JSON.stringify(result.draft))).to.deep.equal(result.draft);
        expect(applyAsApiServer(pod, result.patch)).to.deep.equal(result.draft);
      }),
      RUNS,
    );
  });

  it('2. is idempotent: hardening the result changes nothing', () => {
    fc.assert(
      fc.property(podArb, (pod) => {
        const { result } = hardenPod(pod);
        const { result: again } = hardenPod(result.draft);
        none(describeOps(again.patch), 'second patch');
        none(
          again.changes.map((c) => `${c.control} ${c.path}`),
          'second changes',
        );
      }),
      RUNS,
    );
  });

  it('3. never produces a pod the API server rejects', () => {
    fc.assert(
      fc.property(podArb, (pod) => {
        const { result } = hardenPod(pod);
        none(apiProblems(pod, result.draft), 'the API server would reject');
      }),
      RUNS,
    );
  });

  it('4. never overwrites a field that was set; arrays only grow at the end', () => {
    fc.assert(
      fc.property(podArb, (pod) => {
        const { result } = hardenPod(pod);
        none(overwrites(pod, result.draft), 'overwritten');
      }),
      RUNS,
    );
  });

  it('5. never puts a root container under runAsNonRoot: true', () => {
    fc.assert(
      fc.property(podArb, (pod) => {
        const { result } = hardenPod(pod);
        none(unstartable(pod, result.draft), 'cannot start');
      }),
      RUNS,
    );
  });

  it('6. reaches "restricted" unless the user chose otherwise, and warns about every residual violation', async () => {
    let secure = 0;
    let residual = 0;
    await fc.assert(
      fc.asyncProperty(podArb, async (pod) => {
        const { policy, result } = hardenPod(pod);
        const insecure = explicitInsecureValues(pod, policy);
        const violations = checkRestricted(result.draft, visitContainers(result.draft), true);
        expect(violations, 'harden() reports what checkRestricted finds').to.deep.equal(result.violations);
        if (insecure.length === 0) {
          secure++;
          none(
            violations.map((v) => `${v.check} ${v.target}: ${v.detail}`),
            'violations of a pod without insecure values',
          );
          none(
            restrictedByHand(result.draft).map((v) => `${v.check} ${v.target}`),
            'restricted, checked by hand',
          );
          return;
        }
        if (violations.length > 0) residual++;
        const review = await reviewAdmission(createReview(pod), {
          settings: DEFAULT_ENGINE_SETTINGS,
          namespaces: LOOKUPS_OFF,
        });
        const warnings = review.response.warnings ?? [];
        const warned = (target: string, check: string): boolean => {
          const who = target === 'pod' ? 'pod' : `container ${JSON.stringify(target)}`;
          return warnings.some(
            (w) => w.startsWith(`pod-hardener: ${who}: `) && w.includes(`check ${check})`),
          );
        };
        none(
          violations
            .filter((v) => !warned(v.target, v.check))
            .map((v) => `${v.check} ${v.target}: ${v.detail}`),
          `violations without a warning (warnings: ${JSON.stringify(warnings)})`,
        );
        // Gaps found independently are warned about too, on the container or on the pod it inherits from.
        none(
          restrictedByHand(result.draft)
            .filter((v) => !warned(v.target, v.check) && !warned('pod', v.check))
            .map((v) => `${v.check} ${v.target}`),
          `gaps without a warning (warnings: ${JSON.stringify(warnings)})`,
        );
      }),
      RUNS,
    );
    // The generator must exercise both branches.
    expect(secure, 'secure pods generated').to.be.greaterThan(30);
    expect(residual, 'pods with residual violations').to.be.greaterThan(30);
  });

  it('7. records every patched field, and every record matches the pod', () => {
    fc.assert(
      fc.property(podArb, (pod) => {
        const { result } = hardenPod(pod);
        none(auditProblems(result), 'audit record');
        const record = changesRecord(result.draft);
        const all = asEntries(result.changes);
        expect(record.entries, 'changes annotation').to.deep.equal(all.slice(0, record.entries.length));
        expect(record.entries.length + record.truncated, 'entries + truncated').to.equal(all.length);
        // The record is exact: replayed onto the input it rebuilds the draft, our annotations aside.
        const rebuilt = withoutOwnAnnotations(replay(pod, result.changes));
        const expected = withoutOwnAnnotations(result.draft);
        // An annotations map (or metadata) created only for our own keys is left empty by the comparison.
        if (expected.metadata?.annotations !== undefined) (rebuilt.metadata ??= {}).annotations ??= {};
        expect(rebuilt, 'input + recorded changes').to.deep.equal(expected);
      }),
      RUNS,
    );
  });

  it('8. on reinvocation hardens only the container another webhook added, wherever it went', () => {
    fc.assert(
      fc.property(podArb, injectedContainerArb(INJECTED), (pod, inject) => {
        const { result: first } = hardenPod(pod);
        const { pod: injected, pointer: base } = inject(first.draft);
        const firstVolumes = first.draft.spec?.volumes?.length ?? 0;

        const { result: second } = hardenPod(injected);
        const stray = second.patch.flatMap(opLeaves).filter((leaf) => {
          if (isUnder(leaf, base) || isOwnAnnotationLeaf(leaf)) return false;
          // A volume for a path the first pass had no volume for (checked below) may be appended.
          const volume = /^\/spec\/volumes\/(\d+)(\/|$)/.exec(leaf);
          return volume === null || Number(volume[1]) < firstVolumes;
        });
        none(stray, 'changes outside the injected container');

        const firstPaths = new Set([...addedVolumePaths(pod, first.draft).values()].flatMap((s) => [...s]));
        for (const [name, paths] of addedVolumePaths(first.draft, second.draft)) {
          for (const path of paths)
            expect(firstPaths.has(path), `second volume ${name} for ${path}`).to.equal(false);
        }
        const tmpVolumes = [...addedVolumePaths(pod, second.draft)].filter(([, paths]) => paths.has('/tmp'));
        expect(tmpVolumes.length, 'volumes added for /tmp').to.be.at.most(1);

        const record = changesRecord(second.draft);
        expect(record.entries.length + record.truncated).to.be.at.least(
          first.changes.length + second.changes.length,
        );
        expect(applyAsApiServer(injected, second.patch)).to.deep.equal(second.draft);
        none(apiProblems(injected, second.draft), 'the API server would reject');
        none(overwrites(injected, second.draft), 'overwritten');
        // Root containers are judged against the pod as it would be had pod-hardener never run.
        none(unstartable(inject(pod).pod, second.draft), 'cannot start');
        none(describeOps(hardenPod(second.draft).result.patch), 'a third pass patches');
      }),
      RUNS,
    );
  });

  it('9. on the ephemeral-containers UPDATE touches only the new ephemeral container', () => {
    fc.assert(
      fc.property(
        podArb,
        fc.option(ephemeralContainerArb('debug-old'), { nil: undefined }),
        ephemeralContainerArb('debugger'),
        (pod, makeEarlier, makeDebugger) => {
          const { result: created } = hardenPod(pod);
          let oldPod = created.draft;
          if (makeEarlier !== undefined) {
            // An earlier debug session, hardened by an earlier UPDATE.
            const earlier = structuredClone(oldPod);
            (earlier.spec!.ephemeralContainers ??= []).push(makeEarlier(oldPod));
            oldPod = hardenPod(earlier, oldPod).result.draft;
          }
          const updated = structuredClone(oldPod);
          const ephemeral = (updated.spec!.ephemeralContainers ??= []);
          ephemeral.push(makeDebugger(oldPod));
          const base = `/spec/ephemeralContainers/${ephemeral.length - 1}`;

          const { result } = hardenPod(updated, oldPod);
          const stray = result.patch.flatMap(opLeaves).filter((leaf) => !isUnder(leaf, base));
          none(stray, 'changes outside the new ephemeral container');
          expect(result.draft.spec?.ephemeralContainers?.at(-1)?.resources, 'resources').to.equal(undefined);
          expect(applyAsApiServer(updated, result.patch)).to.deep.equal(result.draft);
          none(apiProblems(updated, result.draft), 'the API server would reject');
          none(overwrites(updated, result.draft), 'overwritten');
          // Root containers are judged against the pod as it would be had pod-hardener never run.
          const reference = structuredClone(pod);
          reference.spec!.ephemeralContainers = [
            ...(makeEarlier === undefined ? [] : [makeEarlier(pod)]),
            makeDebugger(pod),
          ];
          none(unstartable(reference, result.draft), 'cannot start');
          none(describeOps(hardenPod(result.draft, oldPod).result.patch), 'the same UPDATE again patches');
          none(auditProblems(result), 'audit record');
        },
      ),
      RUNS,
    );
  });

  it('10. gives each writable path its own emptyDir, mounted in every read-only container', () => {
    fc.assert(
      fc.property(podArb, (pod) => {
        const { policy, result } = hardenPod(pod);
        none(writablePathProblems(pod, result.draft, policy), 'writable paths');
      }),
      RUNS,
    );
  });

  it('11. honours opt-outs: an opted-out container gets nothing from that control, not even inherited', () => {
    let optedOut = 0;
    fc.assert(
      fc.property(podArb, (pod) => {
        const { policy, result } = hardenPod(pod);
        if (policy.optOuts.length > 0) optedOut++;
        none(optOutProblems(pod, result, policy), 'opt-outs');
      }),
      RUNS,
    );
    expect(optedOut, 'pods with opt-outs generated').to.be.greaterThan(30);
  });

  it('12. honours an opt-out for a container that another webhook injects later', () => {
    let exercised = 0;
    fc.assert(
      fc.property(podArb, injectedContainerArb(INJECTED), (pod, inject) => {
        const { result: first } = hardenPod(pod);
        const { pod: injected } = inject(first.draft);
        const { policy, result: second } = hardenPod(injected);
        // What the injected container would have had had pod-hardener never run.
        const { pod: untouched } = inject(pod);
        const problems: string[] = [];
        for (const control of CONTROL_IDS) {
          if (isControlEnabled(policy, control, INJECTED)) continue;
          exercised++;
          const before = JSON.stringify(controlledValues(untouched, INJECTED, control));
          const after = JSON.stringify(controlledValues(second.draft, INJECTED, control));
          if (before !== after) problems.push(`${control}: ${before} -> ${after}`);
        }
        none(problems, `${INJECTED} opted out, yet got (opt-outs honoured: ${policy.optOuts.join(',')})`);
      }),
      RUNS,
    );
    expect(exercised, 'opt-outs naming the injected container').to.be.greaterThan(10);
  });

  it('13. gives a pod marked Windows by any signal no Linux-only field, and spec.os.name when it can', () => {
    const signals = new Map<string, number>();
    fc.assert(
      fc.property(podArb, (pod) => {
        if (!isWindowsPod(pod)) return;
        const spec = pod.spec!;
        const signal =
          spec.os?.name === 'windows'
            ? 'os.name'
            : spec.nodeSelector?.['kubernetes.io/os'] === 'windows'
              ? 'nodeSelector'
              : spec.nodeSelector?.['beta.kubernetes.io/os'] === 'windows'
                ? 'beta nodeSelector'
                : 'affinity';
        const kind = linuxOnlyFields(pod).length > 0 ? `${signal} with Linux-only fields` : signal;
        signals.set(kind, (signals.get(kind) ?? 0) + 1);
        const { policy, result } = hardenPod(pod);
        none(windowsProblems(pod, result.draft, policy), 'Windows pod');
      }),
      RUNS,
    );
    for (const kind of ['os.name', 'nodeSelector', 'beta nodeSelector', 'affinity']) {
      expect(signals.get(kind) ?? 0, `Windows pods generated by ${kind}`).to.be.greaterThan(5);
    }
    expect(
      [...signals].filter(([kind]) => kind.endsWith('Linux-only fields')).reduce((n, [, c]) => n + c, 0),
      'selector-only Windows pods with Linux-only fields',
    ).to.be.greaterThan(5);
  });
});

// ---------------------------------------------------------------------------------------------------
// Image profiles: random profiles over the generated pods' images (registry.example/<name>:1 and
// busybox:1.36).

const PROFILE_GLOBS = [
  'registry.example/*:*',
  'registry.example/*',
  'registry.example/c*:1',
  'registry.example/?*:1',
  'registry.example/i*:*',
  'busybox:*',
  'busybox',
  'elsewhere/*:*',
];

const quantityArb = fc.constantFrom('50m', '250m', '1', '3', '64Mi', '256Mi', '1Gi', '4Gi');

const profileArb: fc.Arbitrary<ImageProfile> = fc
  .record({
    images: fc.subarray(PROFILE_GLOBS, { minLength: 1, maxLength: 3 }),
    runAsUser: fc.option(fc.integer({ min: 1, max: 70000 })),
    runAsGroup: fc.option(fc.integer({ min: 1, max: 70000 })),
    runAsRoot: fc.boolean(),
    writablePaths: fc.subarray(['/var/cache/app', '/var/run', '/data', '/tmp', '/srv/uploads']),
    keepCapabilities: fc.subarray(['NET_BIND_SERVICE', 'CHOWN', 'SYS_ADMIN']),
    skipControls: fc.subarray([...CONTROL_IDS], { maxLength: 2 }),
    requestCpu: fc.option(fc.constantFrom('50m', '250m', '1')),
    requestMemory: fc.option(fc.constantFrom('64Mi', '256Mi', '1Gi')),
    limitCpu: fc.option(quantityArb.filter((q) => !q.endsWith('i'))),
    limitMemory: fc.option(fc.constantFrom('256Mi', '1Gi', '4Gi')),
  })
  .map((r) => {
    const requests: { cpu?: string; memory?: string } = {};
    const limits: { cpu?: string; memory?: string } = {};
    if (r.requestCpu !== null) requests.cpu = r.requestCpu;
    if (r.requestMemory !== null) requests.memory = r.requestMemory;
    if (r.limitCpu !== null && (r.requestCpu === null || compareQuantityText(r.requestCpu, r.limitCpu)! <= 0))
      limits.cpu = r.limitCpu;
    if (
      r.limitMemory !== null &&
      (r.requestMemory === null || compareQuantityText(r.requestMemory, r.limitMemory)! <= 0)
    )
      limits.memory = r.limitMemory;
    return {
      name: '',
      images: r.images,
      // Validation refuses runAsRoot with a UID or GID, as it does here.
      ...(r.runAsRoot ? { runAsRoot: true } : {}),
      ...(!r.runAsRoot && r.runAsUser !== null ? { runAsUser: r.runAsUser } : {}),
      ...(!r.runAsRoot && r.runAsGroup !== null ? { runAsGroup: r.runAsGroup } : {}),
      writablePaths: r.writablePaths,
      keepCapabilities: r.keepCapabilities,
      skipControls: r.skipControls,
      resources: { requests, limits },
    };
  });

const profilesArb = fc
  .array(profileArb, { minLength: 1, maxLength: 4 })
  .map((profiles) => profiles.map((profile, i) => ({ ...profile, name: `p${i}` })));

function hardenWith(pod: Pod, settings: EngineSettings): { policy: ResolvedPolicy; result: HardenResult } {
  const resolution = resolvePolicy(
    settings,
    { mode: 'enforce', allowOptOut: true, warnings: [] },
    pod,
    recordTrusted(pod),
  );
  fc.pre(!resolution.skipPod);
  if (resolution.skipPod) throw new Error('unreachable');
  const sealRecord = (changes: string, optOuts: string | undefined): string =>
    TEST_SEALER.seal(sealSubject(pod, changes, optOuts), TEST_NOW_MS);
  return { policy: resolution.policy, result: harden(pod, resolution.policy, { sealRecord }) };
}

describe('engine/harden properties with random image profiles', () => {
  it('P1. a second pass changes nothing, and the first overwrote nothing that was set', () => {
    let profiled = 0;
    fc.assert(
      fc.property(podArb, profilesArb, (pod, imageProfiles) => {
        const settings = { ...DEFAULT_ENGINE_SETTINGS, imageProfiles };
        const { policy, result } = hardenWith(pod, settings);
        if (policy.profiles.size > 0) profiled++;
        const applied = applyAsApiServer(pod, result.patch);
        expect(applied, 'patch yields the draft').to.deep.equal(result.draft);
        none(overwrites(pod, result.draft), 'overwritten');
        none(apiProblems(pod, result.draft), 'the API server would reject');
        none(unstartable(pod, result.draft), 'cannot start');
        none(auditProblems(result), 'audit record');
        const { result: again } = hardenWith(result.draft, settings);
        none(describeOps(again.patch), 'second patch');
        none(
          again.changes.map((c) => `${c.control} ${c.path}`),
          'second changes',
        );
      }),
      RUNS,
    );
    expect(profiled, 'pods a profile applied to').to.be.greaterThan(100);
  });

  it('P2. what a profile or an annotation chose holds: annotations win, runAsRoot is never put under runAsNonRoot, skipped controls add nothing', () => {
    fc.assert(
      fc.property(podArb, profilesArb, (pod, imageProfiles) => {
        const settings = { ...DEFAULT_ENGINE_SETTINGS, imageProfiles };
        const { policy, result } = hardenWith(pod, settings);
        const problems: string[] = [];
        const changed = new Map(result.changes.map((c) => [c.path, c]));
        for (const ref of visitContainers(result.draft)) {
          const profile = policy.profiles.get(ref.pointer);
          if (profile === undefined) continue;
          const where = `${ref.name} (${profile.name})`;
          const runAsUserPath = `${ref.pointer}/securityContext/runAsUser`;
          const nonRootPath = `${ref.pointer}/securityContext/runAsNonRoot`;
          // The annotation's UID, never the profile's, wherever the UID went.
          if (policy.runAsUserFromAnnotation)
            for (const change of result.changes)
              if (change.path.endsWith('/runAsUser') && change.profile !== undefined)
                problems.push(`${where}: profile UID ${String(change.value)} over the annotation`);
          const skipped = new Set(profile.skipControls ?? []);
          if (
            profile.runAsRoot === true &&
            !policy.runAsUserFromAnnotation &&
            !skipped.has('run-as-non-root')
          ) {
            if (changed.has(nonRootPath)) problems.push(`${where}: runAsNonRoot set on a root image`);
            if (changed.has(runAsUserPath)) problems.push(`${where}: runAsUser set on a root image`);
          }
          for (const control of skipped)
            for (const change of result.changes)
              if (change.control === control && change.target === ref.name)
                problems.push(`${where}: skips ${control} yet ${change.path} was set`);
          // Every value named after a profile is that container's profile's.
          for (const change of result.changes)
            if (change.target === ref.name && change.profile !== undefined && change.profile !== profile.name)
              problems.push(`${where}: ${change.path} named ${change.profile}`);
        }
        none(problems, 'profile choices');
      }),
      RUNS,
    );
  });
});
