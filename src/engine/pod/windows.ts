/**
 * What the API server forbids on a Windows pod. With `spec.os.name: windows` it validates the pod as
 * Windows (k8s.io/kubernetes pkg/apis/core/validation, validateWindows and validatePodResources) and
 * rejects every field listed here; without `spec.os` it validates none of them. The engine fills
 * `spec.os.name` only on a pod that has none of them, so the pod it emits is never one the API rejects.
 */
import { CONTAINER_LISTS, type Pod } from './model.js';

/** The Windows user that is not an administrator: the counterpart of a non-root numeric UID. */
export const WINDOWS_NON_ROOT_USER = 'ContainerUser';

/** Pod securityContext fields the API forbids on a Windows pod (any value, once present). */
const POD_CONTEXT_FIELDS = [
  'appArmorProfile',
  'seLinuxOptions',
  'seLinuxChangePolicy',
  'seccompProfile',
  'fsGroup',
  'fsGroupChangePolicy',
  'runAsUser',
  'runAsGroup',
  'supplementalGroups',
  'supplementalGroupsPolicy',
] as const;

/** Container securityContext fields the API forbids on a Windows pod (any value, once present). */
const CONTAINER_CONTEXT_FIELDS = [
  'appArmorProfile',
  'seLinuxOptions',
  'seccompProfile',
  'capabilities',
  'readOnlyRootFilesystem',
  'privileged',
  'allowPrivilegeEscalation',
  'procMount',
  'runAsUser',
  'runAsGroup',
] as const;

function present(value: unknown): boolean {
  return value !== undefined && value !== null;
}

/**
 * Every field of the pod that the API server rejects once `spec.os.name` is windows, as JSON pointers
 * in pod order: the Linux-only securityContext fields of the pod and of every container, non-empty
 * sysctls, `hostUsers` and `shareProcessNamespace` (any value), `hostPID` or `hostIPC` true, and
 * pod-level `resources`. Empty means the pod is valid as a Windows pod.
 */
export function linuxOnlyFields(pod: Pod): string[] {
  const found: string[] = [];
  const spec = pod.spec;
  if (!spec) return found;
  const podContext = spec.securityContext as Record<string, unknown> | undefined | null;
  if (podContext) {
    for (const field of POD_CONTEXT_FIELDS)
      if (present(podContext[field])) found.push(`/spec/securityContext/${field}`);
    const sysctls = podContext.sysctls;
    if (Array.isArray(sysctls) && sysctls.length > 0) found.push('/spec/securityContext/sysctls');
  }
  if (present(spec.hostUsers)) found.push('/spec/hostUsers');
  if (present(spec.shareProcessNamespace)) found.push('/spec/shareProcessNamespace');
  if (spec.hostPID === true) found.push('/spec/hostPID');
  if (spec.hostIPC === true) found.push('/spec/hostIPC');
  if (present(spec.resources)) found.push('/spec/resources');
  for (const list of CONTAINER_LISTS) {
    (spec[list] ?? []).forEach((container, index) => {
      const sc = container.securityContext as Record<string, unknown> | undefined | null;
      if (!sc) return;
      for (const field of CONTAINER_CONTEXT_FIELDS)
        if (present(sc[field])) found.push(`/spec/${list}/${index}/securityContext/${field}`);
    });
  }
  return found;
}
