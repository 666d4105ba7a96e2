/**
 * How harden() runs one control: which containers it sees, what it may do at pod level, and the skips
 * every control shares (opted out, Windows for Linux-only controls). The control tables in
 * test/engine/controls run controls through this same function, so they cannot drift from harden().
 */
import type { ControlId } from '../controls/ids.js';
import type {
  ContainerRef,
  Control,
  ControlInputs,
  ControlResult,
  ControlScope,
  Skip,
} from '../controls/types.js';
import { visitContainers } from '../controls/visitor.js';
import type { Pod } from '../pod/model.js';
import { hasContainerOptOut, isControlEnabled, type ResolvedPolicy } from '../resolve/resolve.js';

/** The containers a pass may change, with refs into the draft. */
export interface PassScope {
  readonly containers: readonly ContainerRef[];
  /** False for the ephemeral-containers subresource (see ControlScope.podLevel). */
  readonly podLevel: boolean;
  readonly windows: boolean;
}

/**
 * Every container of the draft, or for the ephemeral-containers subresource only the ephemeral
 * containers the UPDATE adds. Controls change containers in place and only append to lists, so the
 * refs stay valid for the whole pass.
 */
export function passScope(draft: Pod, windows: boolean, newEphemeral?: ReadonlySet<string>): PassScope {
  const containers = visitContainers(draft, (list, container) =>
    newEphemeral ? list === 'ephemeralContainers' && newEphemeral.has(container.name) : true,
  );
  return { containers, podLevel: newEphemeral === undefined, windows };
}

/** The profile that skips this control for the container, if one does (an opt-out the admin made). */
function profileSkipping(policy: ResolvedPolicy, control: ControlId, ref: ContainerRef): string | undefined {
  const profile = policy.profiles.get(ref.pointer);
  return profile?.skipControls?.includes(control) === true ? profile.name : undefined;
}

/** Runs one control over the pass's scope; a control the policy disables records nothing. */
export function runControl(
  control: Control,
  draft: Pod,
  pass: PassScope,
  policy: ResolvedPolicy,
  inputs: ControlInputs,
): ControlResult {
  if (policy.disabledControls.has(control.id)) return { changes: [], skipped: [] };
  const targets: ContainerRef[] = [];
  const optedOut: ContainerRef[] = [];
  const profileSkips: Skip[] = [];
  for (const ref of pass.containers) {
    if (ref.list === 'ephemeralContainers' && !control.coversEphemeralContainers) continue;
    if (!isControlEnabled(policy, control.id, ref.name)) {
      optedOut.push(ref);
      continue;
    }
    const profile = profileSkipping(policy, control.id, ref);
    if (profile === undefined) targets.push(ref);
    else profileSkips.push({ ...skip(control.id, ref, `skipped by image profile ${profile}`), profile });
  }
  const scope: ControlScope = {
    podLevel: pass.podLevel,
    windows: pass.windows,
    targets,
    // A pod-level default would reach a container its profile exempts, as it would an opted-out one.
    podDefaults: pass.podLevel && !hasContainerOptOut(policy, control.id) && profileSkips.length === 0,
  };
  const result =
    pass.windows && control.linuxOnly !== undefined
      ? {
          changes: [],
          skipped: targets.map((ref) => skip(control.id, ref, `Windows pod: ${control.linuxOnly}`)),
        }
      : control.apply(draft, scope, inputs);
  if (optedOut.length === 0 && profileSkips.length === 0) return result;
  const skipped = [...result.skipped];
  for (const ref of optedOut) skipped.push(skip(control.id, ref, 'opted out'));
  for (const entry of profileSkips) skipped.push(entry);
  return { changes: result.changes, skipped };
}

function skip(control: ControlId, ref: ContainerRef, reason: string): Skip {
  return { control, target: ref.name, reason };
}
