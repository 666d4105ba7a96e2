/**
 * Pod shapes as the engine sees them: the raw JSON the API server sent, typed with the client library's
 * models. Only the types are imported; the library's ObjectSerializer is never used because it reshapes
 * fields, which would show up as false differences in the patch.
 */
import type {
  V1Container,
  V1EphemeralContainer,
  V1Pod,
  V1PodSecurityContext,
  V1SecurityContext,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';

export type Pod = V1Pod;
export type Container = V1Container | V1EphemeralContainer;
export type SecurityContext = V1SecurityContext;
export type PodSecurityContext = V1PodSecurityContext;
export type Volume = V1Volume;
export type VolumeMount = V1VolumeMount;

export const CONTAINER_LISTS = ['initContainers', 'containers', 'ephemeralContainers'] as const;
export type ContainerList = (typeof CONTAINER_LISTS)[number];

const OS_LABELS = ['kubernetes.io/os', 'beta.kubernetes.io/os'];

/**
 * Whether the pod runs on Windows: `spec.os.name` says so, or the pod can only be scheduled on Windows
 * nodes (its nodeSelector pins an OS label to windows, or every required node-affinity term requires
 * an OS label In [windows]). `spec.os.name: linux` wins over any selector; no signal means Linux.
 */
export function isWindowsPod(pod: Pod): boolean {
  const os = pod.spec?.os?.name;
  if (os !== undefined && os !== null) return os === 'windows';
  const selector = pod.spec?.nodeSelector;
  if (selector !== undefined && selector !== null) {
    for (const label of OS_LABELS) {
      const value = selector[label];
      if (value !== undefined) return value === 'windows';
    }
  }
  const terms =
    pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  if (!Array.isArray(terms) || terms.length === 0) return false;
  return terms.every(
    (term) =>
      Array.isArray(term.matchExpressions) &&
      term.matchExpressions.some(
        (e) =>
          OS_LABELS.includes(e.key) &&
          e.operator === 'In' &&
          Array.isArray(e.values) &&
          e.values.length > 0 &&
          e.values.every((v) => v === 'windows'),
      ),
  );
}

/** hostProcess on the pod or on any container makes the whole pod a Windows host process pod. */
export function isHostProcessPod(pod: Pod): boolean {
  if (pod.spec?.securityContext?.windowsOptions?.hostProcess === true) return true;
  return CONTAINER_LISTS.some((list) =>
    (pod.spec?.[list] ?? []).some((c) => c.securityContext?.windowsOptions?.hostProcess === true),
  );
}

/** The pod carries the mirror-pod marker. Only a node's identity makes that claim true. */
export function claimsMirrorPod(pod: Pod): boolean {
  return pod.metadata?.annotations?.['kubernetes.io/config.mirror'] !== undefined;
}
