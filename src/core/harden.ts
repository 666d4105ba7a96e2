import jsonPatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import { CONTROLS } from '../controls/index.js';
import type { Change, ContainerRef, Skip } from '../controls/types.js';
import { visitContainers } from '../controls/visitor.js';
import { isWindowsPod, type Pod } from '../k8s/pod.js';
import { hasContainerOptOut, isControlEnabled, type ResolvedPolicy } from '../policy/resolve.js';
import { mergeChangesAnnotation } from './audit.js';
import { checkRestricted, type Violation } from './pss.js';
import { cloneJson } from '../util/json.js';

export interface HardenOptions {
  /**
   * For the ephemeral-containers subresource: the pod before the UPDATE. Only ephemeral containers it
   * does not have are hardened, and nothing at pod level changes (the API would reject it).
   */
  readonly oldPod?: Pod;
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
  const draft = cloneJson(pod);
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
    changes.push(...result.changes);
    skipped.push(...result.skipped);
  }

  const enforce = policy.mode === 'enforce';
  // Annotations cannot change through the ephemeral-containers subresource; the audit annotations
  // and the log carry the record there.
  if (enforce && podLevel && changes.length > 0) {
    const annotations = (draft.metadata ??= {}).annotations ?? {};
    annotations[policy.keys.changes] = mergeChangesAnnotation(policy.earlierChanges, changes);
    if (policy.optOuts.length > 0) annotations[policy.keys.optOuts] = policy.optOuts.join(',');
    draft.metadata.annotations = annotations;
  }

  return {
    draft,
    patch: enforce ? jsonPatch.compare(pod, draft) : [],
    changes,
    skipped,
    violations: checkRestricted(draft, scope, podLevel),
    containersInScope: scope.length,
  };
}

/** Names of ephemeral containers the UPDATE adds; empty means there is nothing to harden. */
export function newEphemeralContainers(pod: Pod, oldPod: Pod): string[] {
  const existing = new Set((oldPod.spec?.ephemeralContainers ?? []).map((c) => c.name));
  return (pod.spec?.ephemeralContainers ?? []).map((c) => c.name).filter((name) => !existing.has(name));
}
