/**
 * The Pod Security Standards "restricted" profile, as k8s.io/pod-security-admission checks it, limited
 * to what a pod spec can violate. It runs on the hardened draft: whatever it still finds is a violation
 * the webhook deliberately left (an explicit insecure value or an opt-out), and becomes a warning.
 */
import type { ContainerRef } from '../controls/types.js';
import type { Pod } from '../pod/model.js';

export interface Violation {
  /** Stable check id, usable as a metric label. */
  readonly check: string;
  /** `pod` or a container name. */
  readonly target: string;
  readonly detail: string;
}

const ALLOWED_VOLUME_SOURCES = new Set([
  'configMap',
  'downwardAPI',
  'emptyDir',
  'projected',
  'secret',
  'csi',
  'persistentVolumeClaim',
  'ephemeral',
  'image',
]);

const ALLOWED_SECCOMP = new Set(['RuntimeDefault', 'Localhost']);

/**
 * `containers` are the ones to judge; `podLevel` says whether pod-level fields and volumes are judged
 * too (not for the ephemeral-containers subresource, where only the new containers are ours to report).
 */
export function checkRestricted(
  pod: Pod,
  containers: readonly ContainerRef[],
  podLevel: boolean,
): Violation[] {
  const found: Violation[] = [];
  const add = (check: string, target: string, detail: string): void => {
    found.push({ check, target, detail });
  };
  const spec = pod.spec;
  const podContext = spec?.securityContext;
  // Pod Security exempts a pod from its Linux-only checks by `spec.os.name` alone, never by its node
  // selector or affinity: a pod that only its scheduling marks as Windows is judged as Linux.
  const windows = spec?.os?.name === 'windows';

  if (podLevel) {
    for (const field of ['hostNetwork', 'hostPID', 'hostIPC'] as const) {
      if (spec?.[field] === true) add('host-namespaces', 'pod', `${field}: true`);
    }
    for (const volume of spec?.volumes ?? []) {
      const source = Object.keys(volume).find((key) => key !== 'name');
      if (source !== undefined && !ALLOWED_VOLUME_SOURCES.has(source)) {
        add('restricted-volumes', 'pod', `volume ${JSON.stringify(volume.name)} uses ${source}`);
      }
    }
    if (podContext?.runAsNonRoot === false) add('run-as-non-root', 'pod', 'runAsNonRoot: false');
    if (podContext?.runAsUser === 0) add('run-as-user', 'pod', 'runAsUser: 0');
    const podSeccomp = podContext?.seccompProfile?.type;
    if (!windows && podSeccomp !== undefined && !ALLOWED_SECCOMP.has(podSeccomp)) {
      add('seccomp', 'pod', `seccompProfile.type: ${podSeccomp}`);
    }
  }

  for (const { container, name } of containers) {
    const sc = container.securityContext;
    if (sc?.privileged === true) add('privileged', name, 'privileged: true');
    for (const port of container.ports ?? []) {
      if (port.hostPort !== undefined && port.hostPort !== 0)
        add('host-ports', name, `hostPort: ${port.hostPort}`);
    }
    if (!windows) {
      if (sc?.allowPrivilegeEscalation !== false) {
        add(
          'allow-privilege-escalation',
          name,
          sc?.allowPrivilegeEscalation === true
            ? 'allowPrivilegeEscalation: true'
            : 'allowPrivilegeEscalation unset',
        );
      }
      if (!(sc?.capabilities?.drop ?? []).includes('ALL'))
        add('capabilities', name, 'capabilities.drop lacks "ALL"');
      const extra = (sc?.capabilities?.add ?? []).filter((cap) => cap !== 'NET_BIND_SERVICE');
      if (extra.length > 0) add('capabilities', name, `capabilities.add: ${extra.join(', ')}`);
      const seccomp = sc?.seccompProfile?.type;
      if (
        seccomp !== undefined ? !ALLOWED_SECCOMP.has(seccomp) : podContext?.seccompProfile?.type === undefined
      ) {
        add('seccomp', name, `seccompProfile.type: ${seccomp ?? 'unset'}`);
      }
    }
    const nonRoot = sc?.runAsNonRoot;
    if (nonRoot === false) add('run-as-non-root', name, 'runAsNonRoot: false');
    else if (nonRoot === undefined && podContext?.runAsNonRoot !== true) {
      // Pod Security does not read the Windows user; the warning names it because it is why.
      const user = sc?.windowsOptions?.runAsUserName ?? podContext?.windowsOptions?.runAsUserName;
      const admin = user === 'ContainerAdministrator' ? ' (runs as ContainerAdministrator)' : '';
      add('run-as-non-root', name, `runAsNonRoot unset${admin}`);
    }
    if (sc?.runAsUser === 0) add('run-as-user', name, 'runAsUser: 0');
  }
  return found;
}
