/**
 * Pods that really run on the e2e node: create and wait for a phase or a container state (with the
 * pod's status and events in the failure message), and `kubectl exec` into them.
 */
import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import type { Cluster, KubectlResult } from './cluster.js';
import { BUSYBOX_IMAGE } from './node.js';
import { sleep } from './processes.js';

/** A container of the busybox image, with a pull policy that never asks a registry. */
export function busybox(
  name: string,
  command: string[],
): { name: string; image: string; imagePullPolicy: string; command: string[] } {
  return { name, image: BUSYBOX_IMAGE, imagePullPolicy: 'IfNotPresent', command };
}

/** A pod with the given containers; a 1 s grace period, since `sleep` as PID 1 ignores SIGTERM. */
export function nodePod(
  name: string,
  spec: Partial<NonNullable<V1Pod['spec']>>,
  annotations?: Record<string, string>,
): V1Pod {
  return {
    metadata: { name, ...(annotations === undefined ? {} : { annotations }) },
    spec: { terminationGracePeriodSeconds: 1, containers: [], ...spec },
  };
}

export async function describePod(cluster: Cluster, namespace: string, name: string): Promise<string> {
  const result = await cluster.kubectl(['describe', 'pod', '-n', namespace, name]);
  return result.stdout + result.stderr;
}

/** Polls the pod until `done` holds; fails with `kubectl describe` after `timeoutMs`. */
export async function waitForPod(
  cluster: Cluster,
  namespace: string,
  name: string,
  what: string,
  done: (pod: V1Pod) => boolean,
  timeoutMs = 90_000,
): Promise<V1Pod> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pod = await cluster.core.readNamespacedPod({ namespace, name });
    if (done(pod)) return pod;
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for pod ${namespace}/${name} to be ${what}\n` +
          (await describePod(cluster, namespace, name)),
      );
    }
    await sleep(500);
  }
}

export function isRunningAndReady(pod: V1Pod): boolean {
  return (
    pod.status?.phase === 'Running' &&
    (pod.status.containerStatuses ?? []).every((status) => status.state?.running !== undefined)
  );
}

export async function runPod(cluster: Cluster, namespace: string, pod: V1Pod): Promise<V1Pod> {
  await cluster.core.createNamespacedPod({ namespace, body: pod });
  return waitForPod(cluster, namespace, pod.metadata?.name ?? '', 'Running', isRunningAndReady);
}

export function containerStatus(pod: V1Pod, container: string): V1ContainerStatus | undefined {
  const status = pod.status;
  return [
    ...(status?.initContainerStatuses ?? []),
    ...(status?.containerStatuses ?? []),
    ...(status?.ephemeralContainerStatuses ?? []),
  ].find((candidate) => candidate.name === container);
}

export function exec(
  cluster: Cluster,
  namespace: string,
  pod: string,
  container: string,
  command: string[],
): Promise<KubectlResult> {
  return cluster.kubectl(['exec', '-n', namespace, pod, '-c', container, '--', ...command]);
}

export async function execOk(
  cluster: Cluster,
  namespace: string,
  pod: string,
  container: string,
  command: string[],
): Promise<string> {
  const result = await exec(cluster, namespace, pod, container, command);
  if (result.code !== 0) {
    throw new Error(
      `kubectl exec ${pod} -c ${container} -- ${command.join(' ')} exited ${result.code}: ${result.stderr}`,
    );
  }
  return result.stdout;
}

/** The `Name:\tvalue` lines of /proc/self/status as read by a new process in the container. */
export async function procStatus(
  cluster: Cluster,
  namespace: string,
  pod: string,
  container: string,
): Promise<Record<string, string>> {
  const text = await execOk(cluster, namespace, pod, container, ['cat', '/proc/self/status']);
  return Object.fromEntries(
    text
      .split('\n')
      .map((line) => line.split(':\t'))
      .filter((parts): parts is [string, string] => parts.length === 2)
      .map(([key, value]) => [key, value.trim()]),
  );
}
