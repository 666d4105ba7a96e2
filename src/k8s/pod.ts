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

export function isWindowsPod(pod: Pod): boolean {
  return pod.spec?.os?.name === 'windows';
}

/** hostProcess on the pod or on any container makes the whole pod a Windows host process pod. */
export function isHostProcessPod(pod: Pod): boolean {
  if (pod.spec?.securityContext?.windowsOptions?.hostProcess === true) return true;
  return CONTAINER_LISTS.some((list) =>
    (pod.spec?.[list] ?? []).some((c) => c.securityContext?.windowsOptions?.hostProcess === true),
  );
}

export function isMirrorPod(pod: Pod): boolean {
  return pod.metadata?.annotations?.['kubernetes.io/config.mirror'] !== undefined;
}
