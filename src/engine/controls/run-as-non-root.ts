/**
 * run-as-non-root
 *
 * Spec: `runAsNonRoot: true` on every container, and pod-level `runAsUser` and `runAsGroup`
 * (configured, never 0), `fsGroup` with `fsGroupChangePolicy: OnRootMismatch`, each only if unset. A
 * numeric UID matters: with runAsNonRoot alone, an image whose USER is root fails with
 * CreateContainerConfigError.
 *
 * runAsNonRoot goes on the containers, never on the pod: a pod-level value would be inherited by a
 * root container another webhook injects after our pass (reinvocation), which the kubelet would then
 * refuse to start. Containers we harden carry their own value, and Pod Security "restricted" accepts
 * it on every container as well as on the pod. A pod-level value the user set is the user's, and is
 * inherited as they chose.
 *
 * A container that explicitly runs as root (`runAsUser: 0`, `runAsNonRoot: false`, or the Windows
 * `ContainerAdministrator` user), directly or through the pod-level value it inherits, would be refused
 * by the kubelet under runAsNonRoot. It is left alone and reported; then, and when a container opted
 * out of this control, the UID and GID go on each other container instead of the pod.
 *
 * Windows pods: only runAsNonRoot (the API forbids runAsUser, runAsGroup and fsGroup there).
 *
 * Image profiles (`users`, by container pointer): a profile's UID and GID replace the defaults for
 * that container; they go on the pod only when every container ends up with the same pair, otherwise
 * on each container. A profile that says the image must run as root makes the container start as
 * root: runAsNonRoot and the UID/GID are left out for it (recorded, and warned about), and the UID and
 * GID go on each other container, as for a container that explicitly runs as root.
 */
import type { Pod } from '../pod/model.js';
import { DraftRecorder, getPath } from './recorder.js';
import type { Control, ContainerRef, ContainerUser, ControlInputs, ControlScope } from './types.js';

const POD = '/spec';

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
  apply(
    draft: Pod,
    scope: ControlScope,
    {
      runAsUser,
      runAsGroup,
      fsGroup,
      users,
    }: Pick<ControlInputs, 'runAsUser' | 'runAsGroup' | 'fsGroup' | 'users'>,
  ) {
    const rec = new DraftRecorder('run-as-non-root');
    const spec = draft.spec as object;
    const inherited = (field: string): unknown => getPath(spec, ['securityContext', field]) ?? undefined;
    const defaultUser: ContainerUser = {
      runAsRoot: false,
      runAsUser: { value: runAsUser },
      runAsGroup: { value: runAsGroup },
    };

    const startable: ContainerRef[] = [];
    for (const ref of scope.targets) {
      const reason = explicitRootReason(draft, ref);
      const user = users.get(ref.pointer);
      if (reason) rec.skip(ref.name, reason);
      else if (user?.runAsRoot === true)
        rec.skip(
          ref.name,
          `image profile ${user.profile} says the image must run as root; runAsNonRoot, runAsUser and ` +
            `runAsGroup left unset so it can start`,
          { profile: user.profile, keepsStartable: true },
        );
      else startable.push(ref);
    }
    const podWide = scope.podDefaults && startable.length === scope.targets.length;

    const userOf = (ref: ContainerRef): ContainerUser => users.get(ref.pointer) ?? defaultUser;
    const uidFields = (user: ContainerUser) =>
      user.runAsRoot
        ? []
        : ([
            ['runAsUser', user.runAsUser],
            ['runAsGroup', user.runAsGroup],
          ] as const);
    // One pair for every container goes on the pod; containers whose profiles differ get their own.
    const pairs = new Set(startable.map((ref) => JSON.stringify(uidFields(userOf(ref)))));
    const uidOnPod = !scope.windows && podWide && scope.targets.length > 0 && pairs.size === 1;
    for (const ref of startable) {
      const fill = (field: string, value: unknown, profile?: string): void => {
        if (inherited(field) === undefined)
          rec.fill(ref.container, ref.pointer, ['securityContext', field], value, ref.name, profile);
      };
      fill('runAsNonRoot', true);
      if (!scope.windows && !uidOnPod)
        for (const [field, { value, profile }] of uidFields(userOf(ref))) fill(field, value, profile);
    }
    if (uidOnPod && startable[0])
      for (const [field, { value, profile }] of uidFields(userOf(startable[0])))
        rec.fill(spec, POD, ['securityContext', field], value, 'pod', profile);

    // fsGroup changes volume ownership for every container, so a container that opted out keeps it off.
    if (scope.podDefaults && !scope.windows && scope.targets.length > 0) {
      rec.fill(spec, POD, ['securityContext', 'fsGroup'], fsGroup, 'pod');
      rec.fill(spec, POD, ['securityContext', 'fsGroupChangePolicy'], 'OnRootMismatch', 'pod');
    }
    return rec.result();
  },
};
