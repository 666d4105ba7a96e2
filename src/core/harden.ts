import jsonPatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import { CONTROLS } from '../controls/index.js';
import type { ControlId } from '../controls/ids.js';
import type { Change, ContainerRef, Skip } from '../controls/types.js';
import { visitContainers } from '../controls/visitor.js';
import { isWindowsPod, type Pod } from '../k8s/pod.js';
import { hasContainerOptOut, isControlEnabled, type ResolvedPolicy } from '../policy/resolve.js';
import { mergeChangesAnnotation } from './audit.js';
import { checkRestricted, type Violation } from './pss.js';

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
  /** RFC 6902 operations turning the input into the draft; empty when nothing changed. */
  readonly patch: Operation[];
  readonly changes: readonly Change[];
  readonly skipped: readonly Skip[];
  /** Pod Security "restricted" violations left in the draft, for the hardened scope. */
  readonly violations: readonly Violation[];
  /** Controls that changed at least one field, in registration order. */
  readonly controlsApplied: readonly ControlId[];
  /** The containers that were in scope (names), for logs. */
  readonly scope: readonly string[];
}

/**
 * Runs every registered control on a copy of the pod and diffs the copy against the original. The diff
 * is the only source of patch operations, so missing parents and `~1` escaping are handled by
 * construction, and a pod that needs nothing yields an empty patch.
 */
export function harden(pod: Pod, policy: ResolvedPolicy, options: HardenOptions = {}): HardenResult {
  const draft = structuredClone(pod);
  if (!draft.spec) throw new Error('pod has no spec');
  const podLevel = options.oldPod === undefined;
  const inScope = scopeFilter(options.oldPod);
  const windows = isWindowsPod(draft);
  const changes: Change[] = [];
  const skipped: Skip[] = [];

  for (const control of CONTROLS) {
    if (policy.disabledControls.has(control.id)) continue;
    const refs = visitContainers(draft, (list, container) => {
      if (list === 'ephemeralContainers' && !control.coversEphemeralContainers) return false;
      return inScope(list, container.name);
    });
    const targets: ContainerRef[] = [];
    const optedOut: ContainerRef[] = [];
    for (const ref of refs) (isControlEnabled(policy, control.id, ref.name) ? targets : optedOut).push(ref);
    const podDefaults = podLevel && !hasContainerOptOut(policy, control.id);
    const result = control.apply(draft, { policy, podLevel, windows, targets, optedOut, podDefaults });
    changes.push(...result.changes);
    skipped.push(...result.skipped);
  }

  // Annotations cannot change through the ephemeral-containers subresource; the audit annotations
  // and the log carry the record there.
  if (podLevel && changes.length > 0) {
    const annotations = (draft.metadata ??= {}).annotations ?? {};
    annotations[policy.keys.changes] = mergeChangesAnnotation(annotations[policy.keys.changes], changes);
    if (policy.optOuts.length > 0) annotations[policy.keys.optOuts] = policy.optOuts.join(',');
    draft.metadata.annotations = annotations;
  }

  const patch = jsonPatch.compare(pod, draft);
  const scopeRefs = visitContainers(draft, (list, container) => inScope(list, container.name));
  const controlsApplied = [...new Set(changes.map((c) => c.control))];
  return {
    draft,
    patch,
    changes,
    skipped,
    violations: checkRestricted(draft, scopeRefs, podLevel),
    controlsApplied,
    scope: scopeRefs.map((r) => r.name),
  };
}

function scopeFilter(oldPod: Pod | undefined): (list: string, name: string) => boolean {
  if (oldPod === undefined) return () => true;
  const existing = new Set((oldPod.spec?.ephemeralContainers ?? []).map((c) => c.name));
  return (list, name) => list === 'ephemeralContainers' && !existing.has(name);
}

/** Names of ephemeral containers the UPDATE adds; empty means there is nothing to harden. */
export function newEphemeralContainers(pod: Pod, oldPod: Pod): string[] {
  const existing = new Set((oldPod.spec?.ephemeralContainers ?? []).map((c) => c.name));
  return (pod.spec?.ephemeralContainers ?? []).map((c) => c.name).filter((name) => !existing.has(name));
}
