import jsonPatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import { CONTROLS } from '../controls/registry.js';
import type { Change, Skip } from '../controls/types.js';
import { isWindowsPod, type Pod } from '../pod/model.js';
import type { ResolvedPolicy } from '../resolve/resolve.js';
import { passScope, runControl } from './context.js';
import { controlInputs } from '../resolve/control-inputs.js';
import { profileSkipEntry, writeRecord, type RecordEntry } from '../record/changes.js';
import { checkRestricted, type Violation } from '../pod-security/restricted.js';
import { draftOf } from '../pod/draft.js';

export interface HardenOptions {
  /**
   * For the ephemeral-containers subresource: the names of the ephemeral containers the UPDATE adds
   * (newEphemeralContainers). Only they are hardened, and nothing at pod level changes (the API would
   * reject it).
   */
  readonly newEphemeral?: ReadonlySet<string>;
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
  /**
   * The image profile applied to each container in scope, as `container=profile`, in container order.
   */
  readonly profiles: readonly string[];
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
  const pass = passScope(draft, isWindowsPod(draft), options.newEphemeral);
  const inputs = controlInputs(policy);
  const changes: Change[] = [];
  const skipped: Skip[] = [];
  // The record: per control, the fields it set, then the skips image profiles caused.
  const entries: RecordEntry[] = [];

  for (const control of CONTROLS) {
    const result = runControl(control, draft, pass, policy, inputs);
    // A loop, not push(...list): spreading tens of thousands of entries overflows the call stack.
    for (const change of result.changes) {
      changes.push(change);
      entries.push(change);
    }
    for (const skip of result.skipped) {
      skipped.push(skip);
      const entry = profileSkipEntry(skip);
      if (entry) entries.push(entry);
    }
  }

  const enforce = policy.mode === 'enforce';
  // Annotations cannot change through the ephemeral-containers subresource; the audit annotations
  // and the log carry the record there.
  if (enforce && pass.podLevel)
    writeRecord(draft, {
      keys: policy.keys,
      earlier: policy.earlierChanges,
      trusted: policy.recordTrusted,
      optOuts: policy.optOuts,
      changes: entries,
      ...(options.sealRecord ? { seal: options.sealRecord } : {}),
    });

  return {
    draft,
    patch: enforce ? jsonPatch.compare(pod, draft) : [],
    changes,
    skipped,
    profiles: pass.containers.flatMap((ref) => {
      const profile = policy.profiles.get(ref.pointer);
      return profile ? [`${ref.name}=${profile.name}`] : [];
    }),
    violations: checkRestricted(draft, pass.containers, pass.podLevel),
    containersInScope: pass.containers.length,
  };
}

/** Names of ephemeral containers the UPDATE adds; empty means there is nothing to harden. */
export function newEphemeralContainers(pod: Pod, oldPod: Pod): string[] {
  const existing = new Set((oldPod.spec?.ephemeralContainers ?? []).map((c) => c.name));
  return (pod.spec?.ephemeralContainers ?? []).map((c) => c.name).filter((name) => !existing.has(name));
}
