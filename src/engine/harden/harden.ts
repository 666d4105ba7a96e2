import jsonPatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import { CONTROLS } from '../controls/registry.js';
import type { Change, ContainerRef, Skip } from '../controls/types.js';
import { visitContainers } from '../controls/visitor.js';
import { isWindowsPod, type Pod } from '../pod/model.js';
import { hasContainerOptOut, isControlEnabled, type ResolvedPolicy } from '../resolve/resolve.js';
import { mergeChangesAnnotation } from '../audit/audit.js';
import { checkRestricted, type Violation } from '../pod-security/restricted.js';
import { cloneJson } from '../pod/json.js';

export interface HardenOptions {
  /**
   * For the ephemeral-containers subresource: the pod before the UPDATE. Only ephemeral containers it
   * does not have are hardened, and nothing at pod level changes (the API would reject it).
   */
  readonly oldPod?: Pod;
  /**
   * Seals the record this pass writes (engine/record/seal.ts), given the `changes` and `opt-outs` texts.
   * Without it the record is written unsealed, and no later pass will trust it.
   */
  readonly sealRecord?: (changes: string, optOuts: string | undefined) => string;
}

export interface HardenResult {
  /** The hardened copy; the input pod is never modified. */
  readonly draft: Pod;
  /**
   * RFC 6902 operations turning the input into the draft: what the response carries. Empty when
   * nothing changed, and in warn and audit modes, which never patch.
   */
  readonly patch: Operation[];
  /** Every field set (enforce) or that would be set (warn, audit), in control order. */
  readonly changes: readonly Change[];
  readonly skipped: readonly Skip[];
  /** Pod Security "restricted" violations left in the draft, for the hardened scope. */
  readonly violations: readonly Violation[];
  readonly containersInScope: number;
}

/**
 * Runs every registered control on a copy of the pod and diffs the copy against the original. The diff
 * is the only source of patch operations, so missing parents and `~1` escaping are handled by
 * construction, and a pod that needs nothing yields an empty patch.
 */
export function harden(pod: Pod, policy: ResolvedPolicy, options: HardenOptions = {}): HardenResult {
  const draft = draftOf(pod);
  if (!draft.spec) throw new Error('pod has no spec');
  const podLevel = options.oldPod === undefined;
  const added = options.oldPod && new Set(newEphemeralContainers(pod, options.oldPod));
  // Controls change containers in place and only append to lists, so these refs stay valid throughout.
  const scope = visitContainers(draft, (list, container) =>
    added ? list === 'ephemeralContainers' && added.has(container.name) : true,
  );
  const windows = isWindowsPod(draft);
  const changes: Change[] = [];
  const skipped: Skip[] = [];

  for (const control of CONTROLS) {
    if (policy.disabledControls.has(control.id)) continue;
    const targets: ContainerRef[] = [];
    const optedOut: ContainerRef[] = [];
    for (const ref of scope) {
      if (ref.list === 'ephemeralContainers' && !control.coversEphemeralContainers) continue;
      (isControlEnabled(policy, control.id, ref.name) ? targets : optedOut).push(ref);
    }
    const podDefaults = podLevel && !hasContainerOptOut(policy, control.id);
    const result = control.apply(draft, { policy, podLevel, windows, targets, optedOut, podDefaults });
    // A loop, not push(...list): spreading tens of thousands of entries overflows the call stack.
    for (const change of result.changes) changes.push(change);
    for (const skip of result.skipped) skipped.push(skip);
  }

  const enforce = policy.mode === 'enforce';
  // Annotations cannot change through the ephemeral-containers subresource; the audit annotations
  // and the log carry the record there.
  if (enforce && podLevel) writeRecord(draft, policy, changes, options.sealRecord);

  return {
    draft,
    patch: enforce ? jsonPatch.compare(pod, draft) : [],
    changes,
    skipped,
    violations: checkRestricted(draft, scope, podLevel),
    containersInScope: scope.length,
  };
}

/**
 * A copy of what the controls and the record may change: the spec, deeply, and the metadata one level
 * deep (writeRecord copies the annotations before writing). Everything else, labels and managedFields
 * among it, stays shared with the input, and the diff skips shared objects by identity, so a pod
 * carrying tens of thousands of labels costs no more to harden than one without.
 */
function draftOf(pod: Pod): Pod {
  const draft: Pod = Object.assign({}, pod, { spec: cloneJson(pod.spec) });
  if (pod.metadata) draft.metadata = Object.assign({}, pod.metadata);
  return draft;
}

/**
 * This pass's record: earlier sealed entries and this pass's changes, the honoured opt-outs and a new
 * seal. A pass that changes nothing leaves a trusted record as it is, and removes record annotations
 * the pod author wrote, so the stored record only ever says what the webhook did.
 */
function writeRecord(
  draft: Pod,
  policy: ResolvedPolicy,
  changes: readonly Change[],
  sealRecord: HardenOptions['sealRecord'],
): void {
  const { keys } = policy;
  const ours = [keys.changes, keys.optOuts, keys.changesSeal];
  if (changes.length === 0) {
    const metadata = draft.metadata;
    const annotations = metadata?.annotations;
    if (
      policy.recordTrusted ||
      !metadata ||
      !annotations ||
      !ours.some((key) => Object.hasOwn(annotations, key))
    )
      return;
    const kept = { ...annotations };
    for (const key of ours) Reflect.deleteProperty(kept, key);
    metadata.annotations = kept;
    return;
  }
  const metadata = (draft.metadata ??= {});
  // A copy: the draft shares the input's annotations until the record is written (see draftOf).
  const annotations = { ...metadata.annotations };
  const record = mergeChangesAnnotation(policy.earlierChanges, changes);
  const optOuts = policy.optOuts.length > 0 ? policy.optOuts.join(',') : undefined;
  annotations[keys.changes] = record;
  if (optOuts === undefined) Reflect.deleteProperty(annotations, keys.optOuts);
  else annotations[keys.optOuts] = optOuts;
  if (sealRecord === undefined) Reflect.deleteProperty(annotations, keys.changesSeal);
  else annotations[keys.changesSeal] = sealRecord(record, optOuts);
  metadata.annotations = annotations;
}

/** Names of ephemeral containers the UPDATE adds; empty means there is nothing to harden. */
export function newEphemeralContainers(pod: Pod, oldPod: Pod): string[] {
  const existing = new Set((oldPod.spec?.ephemeralContainers ?? []).map((c) => c.name));
  return (pod.spec?.ephemeralContainers ?? []).map((c) => c.name).filter((name) => !existing.has(name));
}
