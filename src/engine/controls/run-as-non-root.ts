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
 * Windows pods (by any signal of isWindowsPod): the API forbids runAsUser, runAsGroup and fsGroup
 * there, and the non-root user is `windowsOptions.runAsUserName: ContainerUser` (an image built on
 * servercore runs as ContainerAdministrator, which runAsNonRoot alone would refuse to start). It is
 * placed exactly as the UID is: on the pod when every target can take it and no container opted out,
 * otherwise on each startable container that names no user of its own and inherits none. A container
 * running as ContainerAdministrator is left and reported like UID 0. A hostProcess pod (hardened only
 * where opt-outs are refused) gets runAsNonRoot alone: ContainerUser is not a host account.
 *
 * A pod that is Windows only by its nodeSelector or required node affinity (a RuntimeClass's
 * `scheduling.nodeSelector` is merged into the nodeSelector before webhooks run) also gets
 * `spec.os.name: windows`: Pod Security exempts a pod from its Linux-only checks only by that field, and
 * with it the API validates the pod as Windows. It is filled only when the pod carries none of the
 * fields the API forbids on Windows (pod/windows.ts), so the result is never rejected; otherwise the
 * pod is left to be evaluated as Linux, and the review warns. Recorded under this control: it is what
 * lets the non-root Windows pod through "restricted", which turning this control off for the whole pod
 * gives up anyway (runAsNonRoot would be missing). A container's opt-out does not hold it back: the
 * field belongs to the pod and sets nothing on that container, and a reinvocation pass must find it
 * already set rather than add it because a container was injected. Never in the ephemeral-containers
 * scope, where the pod level is out of reach.
 *
 * Image profiles (`users`, by container pointer): a profile's UID and GID replace the defaults for
 * that container; they go on the pod only when every container ends up with the same pair, otherwise
 * on each container. A profile that says the image must run as root makes the container start as
 * root: runAsNonRoot and the UID/GID are left out for it (recorded, and warned about), and the UID and
 * GID go on each other container, as for a container that explicitly runs as root. On a Windows pod a
 * profile's UID and GID mean nothing; ContainerUser is placed as above.
 */
import { isHostProcessPod, type Pod } from '../pod/model.js';
import { linuxOnlyFields, WINDOWS_NON_ROOT_USER } from '../pod/windows.js';
import { DraftRecorder, getPath } from './recorder.js';
import type { Control, ContainerRef, ContainerUser, ControlInputs, ControlScope } from './types.js';

const POD = '/spec';

/** A securityContext field of the user, and the image profile its value came from. */
type UserField = readonly [readonly string[], { readonly value: unknown; readonly profile?: string }];

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

/** The first few entries and how many more: a skip reason stays one short line. */
function listed(items: readonly string[], shown = 3): string {
  const head = items.slice(0, shown).join(', ');
  return items.length > shown ? `${head} and ${items.length - shown} more` : head;
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
    const inherited = (path: readonly string[]): unknown =>
      getPath(spec, ['securityContext', ...path]) ?? undefined;
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

    // The user a non-root container runs as: a numeric UID and GID on Linux (the image profile's, or
    // the defaults), ContainerUser on Windows.
    const hostProcess = scope.windows && isHostProcessPod(draft);
    if (hostProcess && scope.targets.length > 0)
      rec.skip('pod', `hostProcess pod: ${WINDOWS_NON_ROOT_USER} is not a host account; runAsUserName left`);
    const windowsUser: readonly UserField[] = hostProcess
      ? []
      : [[['windowsOptions', 'runAsUserName'], { value: WINDOWS_NON_ROOT_USER }]];
    const userFields = (ref: ContainerRef): readonly UserField[] => {
      if (scope.windows) return windowsUser;
      const user = users.get(ref.pointer) ?? defaultUser;
      return user.runAsRoot
        ? []
        : [
            [['runAsUser'], user.runAsUser],
            [['runAsGroup'], user.runAsGroup],
          ];
    };
    // One user for every container goes on the pod; containers whose profiles differ get their own.
    // Without profiles every container has the same user, so the comparison is skipped (every review).
    const oneUser =
      users.size === 0 || new Set(startable.map((ref) => JSON.stringify(userFields(ref)))).size === 1;
    const userOnPod = podWide && scope.targets.length > 0 && oneUser;
    for (const ref of startable) {
      const fill = (path: readonly string[], value: unknown, profile?: string): void => {
        if (inherited(path) === undefined)
          rec.fill(ref.container, ref.pointer, ['securityContext', ...path], value, ref.name, profile);
      };
      fill(['runAsNonRoot'], true);
      if (!userOnPod) for (const [path, { value, profile }] of userFields(ref)) fill(path, value, profile);
    }
    if (userOnPod && startable[0])
      for (const [path, { value, profile }] of userFields(startable[0]))
        rec.fill(spec, POD, ['securityContext', ...path], value, 'pod', profile);

    // fsGroup changes volume ownership for every container, so a container that opted out keeps it off.
    if (scope.podDefaults && !scope.windows && scope.targets.length > 0) {
      rec.fill(spec, POD, ['securityContext', 'fsGroup'], fsGroup, 'pod');
      rec.fill(spec, POD, ['securityContext', 'fsGroupChangePolicy'], 'OnRootMismatch', 'pod');
    }

    // A Windows pod that only its scheduling marks: say so where Pod Security and the API look. Not
    // tied to the targets: a reinvocation pass must not add it because a container was injected.
    const osName = getPath(spec, ['os', 'name']) ?? undefined;
    if (scope.windows && scope.podLevel && osName === undefined) {
      const linuxOnly = linuxOnlyFields(draft);
      if (linuxOnly.length === 0) rec.fill(spec, POD, ['os', 'name'], 'windows', 'pod');
      else rec.skip('pod', `spec.os.name left unset: the API forbids on Windows ${listed(linuxOnly)}`);
    }
    return rec.result();
  },
};
