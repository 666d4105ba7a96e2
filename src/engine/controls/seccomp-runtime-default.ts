/**
 * seccomp-runtime-default
 *
 * Spec: pod-level `seccompProfile: {type: RuntimeDefault}` when the pod sets no profile. Containers
 * that set their own profile keep it; an explicit `Unconfined` is reported by the Pod Security check.
 * When the pod level is out of reach (ephemeral containers) or a container opted out of this control,
 * the profile goes on each remaining container without one instead.
 *
 * The pre-1.19 seccomp annotations count as a profile the user chose: the API server keeps field and
 * annotation in sync, and a disagreement would be rejected.
 *
 * Windows pods: skipped (the API forbids seccompProfile there).
 */
import type { Pod } from '../pod/model.js';
import { DraftRecorder } from './recorder.js';
import type { Control, ControlScope } from './types.js';

const POD_ANNOTATION = 'seccomp.security.alpha.kubernetes.io/pod';
const CONTAINER_ANNOTATION_PREFIX = 'container.seccomp.security.alpha.kubernetes.io/';
const RUNTIME_DEFAULT = { type: 'RuntimeDefault' } as const;

export const seccompRuntimeDefault: Control = {
  id: 'seccomp-runtime-default',
  coversEphemeralContainers: true,
  linuxOnly: 'the API forbids seccompProfile',
  apply(draft: Pod, scope: ControlScope) {
    const rec = new DraftRecorder('seccomp-runtime-default');
    const annotations = draft.metadata?.annotations ?? {};
    const podProfileSet =
      (draft.spec?.securityContext?.seccompProfile ?? undefined) !== undefined ||
      annotations[POD_ANNOTATION] !== undefined;
    const podWide = scope.podDefaults;

    if (!podProfileSet && podWide && scope.targets.length > 0) {
      rec.fill(
        draft.spec as object,
        '/spec',
        ['securityContext', 'seccompProfile'],
        { ...RUNTIME_DEFAULT },
        'pod',
      );
    } else if (!podProfileSet) {
      for (const ref of scope.targets) {
        if (annotations[CONTAINER_ANNOTATION_PREFIX + ref.name] !== undefined) continue;
        rec.fill(
          ref.container,
          ref.pointer,
          ['securityContext', 'seccompProfile'],
          { ...RUNTIME_DEFAULT },
          ref.name,
        );
      }
    }
    return rec.result();
  },
};
