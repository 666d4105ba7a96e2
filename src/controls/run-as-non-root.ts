/**
 * run-as-non-root
 *
 * Spec: pod-level `runAsNonRoot: true`, `runAsUser` and `runAsGroup` (configured, never 0), `fsGroup`
 * with `fsGroupChangePolicy: OnRootMismatch`, each only if unset. A numeric UID matters: with
 * runAsNonRoot alone, an image whose USER is root fails with CreateContainerConfigError.
 *
 * A container that explicitly runs as root (`runAsUser: 0`, `runAsNonRoot: false`, or the Windows
 * `ContainerAdministrator` user), directly or through the pod-level value it inherits, would be refused
 * by the kubelet under a pod-level runAsNonRoot. Then, and when a container opted out of this control,
 * the values go on each other container instead, and the root container is reported.
 *
 * Reinvocation: when a later webhook injects a container with `runAsUser: 0` (or the Windows
 * `ContainerAdministrator` user) and no runAsNonRoot of its own into a pod whose pod-level
 * `runAsNonRoot: true` came from our first pass (our `changes` annotation says so), that container
 * would inherit our value and never start. It gets an explicit
 * `runAsNonRoot: false`, which is reported like any root container. A pod-level value the user set is
 * the user's, and stays in charge.
 *
 * Windows pods: only runAsNonRoot (the API forbids runAsUser, runAsGroup and fsGroup there).
 */
import type { Pod } from '../k8s/pod.js';
import { DraftRecorder, getPath } from './draft.js';
import type { Control, ContainerRef, ControlContext } from './types.js';

const POD = '/spec';
const POD_RUN_AS_NON_ROOT = '/spec/securityContext/runAsNonRoot';

function explicitRootReason(pod: Pod, ref: ContainerRef): string | undefined {
  const own = ref.container.securityContext;
  const podContext = pod.spec?.securityContext;
  const runAsUser = own?.runAsUser ?? podContext?.runAsUser;
  const runAsNonRoot = own?.runAsNonRoot ?? podContext?.runAsNonRoot;
  const windowsUser = own?.windowsOptions?.runAsUserName ?? podContext?.windowsOptions?.runAsUserName;
  if (runAsUser === 0) return 'runs as root (runAsUser: 0); left as set';
  if (runAsNonRoot === false) return 'allows root (runAsNonRoot: false); left as set';
  if (windowsUser === 'ContainerAdministrator') return 'runs as ContainerAdministrator; left as set';
  return undefined;
}

export const runAsNonRoot: Control = {
  id: 'run-as-non-root',
  coversEphemeralContainers: true,
  apply(draft: Pod, ctx: ControlContext) {
    const rec = new DraftRecorder('run-as-non-root');
    const spec = draft.spec as object;
    const { policy } = ctx;

    const startable: ContainerRef[] = [];
    for (const ref of ctx.targets) {
      const reason = explicitRootReason(draft, ref);
      if (reason) rec.skip(ref.name, reason);
      else startable.push(ref);
      const own = ref.container.securityContext;
      const ownRoot = own?.runAsUser === 0 || own?.windowsOptions?.runAsUserName === 'ContainerAdministrator';
      const inheritsOurNonRoot =
        ownRoot &&
        (own?.runAsNonRoot ?? undefined) === undefined &&
        draft.spec?.securityContext?.runAsNonRoot === true &&
        policy.earlierChanges.entries.some((e) => e.path === POD_RUN_AS_NON_ROOT);
      if (inheritsOurNonRoot) {
        rec.fill(ref.container, ref.pointer, ['securityContext', 'runAsNonRoot'], false, ref.name);
      }
    }
    const podWide = ctx.podDefaults && startable.length === ctx.targets.length;

    if (podWide && ctx.targets.length > 0) {
      rec.fill(spec, POD, ['securityContext', 'runAsNonRoot'], true, 'pod');
      if (!ctx.windows) {
        rec.fill(spec, POD, ['securityContext', 'runAsUser'], policy.runAsUser, 'pod');
        rec.fill(spec, POD, ['securityContext', 'runAsGroup'], policy.runAsGroup, 'pod');
      }
    } else {
      for (const ref of startable) {
        const inherited = (field: string): unknown => getPath(spec, ['securityContext', field]);
        const fillContainer = (field: string, value: unknown): void => {
          if (inherited(field) !== undefined && inherited(field) !== null) return;
          rec.fill(ref.container, ref.pointer, ['securityContext', field], value, ref.name);
        };
        fillContainer('runAsNonRoot', true);
        if (!ctx.windows) {
          fillContainer('runAsUser', policy.runAsUser);
          fillContainer('runAsGroup', policy.runAsGroup);
        }
      }
    }

    // fsGroup changes volume ownership for every container, so a container that opted out keeps it off.
    if (ctx.podDefaults && !ctx.windows && ctx.targets.length > 0) {
      rec.fill(spec, POD, ['securityContext', 'fsGroup'], policy.fsGroup, 'pod');
      rec.fill(spec, POD, ['securityContext', 'fsGroupChangePolicy'], 'OnRootMismatch', 'pod');
    }
    for (const ref of ctx.optedOut) rec.skip(ref.name, 'opted out');
    return rec.result();
  },
};
