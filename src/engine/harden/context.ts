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

/** The values the controls read, and nothing else of the policy. */
export function controlInputs(policy: ResolvedPolicy): ControlInputs {
  const { runAsUser, runAsGroup, fsGroup, writablePaths, writableVolumeSizeLimit, resources } = policy;
  return { runAsUser, runAsGroup, fsGroup, writablePaths, writableVolumeSizeLimit, resources };
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
  for (const ref of pass.containers) {
    if (ref.list === 'ephemeralContainers' && !control.coversEphemeralContainers) continue;
    (isControlEnabled(policy, control.id, ref.name) ? targets : optedOut).push(ref);
  }
  const scope: ControlScope = {
    podLevel: pass.podLevel,
    windows: pass.windows,
    targets,
    podDefaults: pass.podLevel && !hasContainerOptOut(policy, control.id),
  };
  const result =
    pass.windows && control.linuxOnly !== undefined
      ? {
          changes: [],
          skipped: targets.map((ref) => skip(control.id, ref, `Windows pod: ${control.linuxOnly}`)),
        }
      : control.apply(draft, scope, inputs);
  if (optedOut.length === 0) return result;
  const skipped = [...result.skipped];
  for (const ref of optedOut) skipped.push(skip(control.id, ref, 'opted out'));
  return { changes: result.changes, skipped };
}

function skip(control: ControlId, ref: ContainerRef, reason: string): Skip {
  return { control, target: ref.name, reason };
}
