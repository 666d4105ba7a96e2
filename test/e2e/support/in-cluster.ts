/**
 * The webhook in-cluster, from the shipped manifests: `kubectl apply -k test/e2e/node/overlay` (the
 * base with only the image swapped), then what a user waits for: the Deployment rolled out, the
 * caBundle written by self-managed TLS, and a pod in an opted-in namespace admitted hardened through
 * the Service (the API server dials an endpoint's pod IP: --enable-aggregator-routing).
 */
import path from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import type { Cluster } from './cluster.js';
import { waitFor } from './processes.js';
import { WEBHOOK_CONFIGURATION, WEBHOOK_NAMESPACE } from './webhook.js';

export const OVERLAY = 'test/e2e/node/overlay';
export const DEPLOYMENT = 'pod-hardener';

/** Where an in-cluster webhook runs: the shipped manifests' names, or a Helm release's. */
export interface InClusterWebhook {
  readonly namespace: string;
  readonly deployment: string;
  readonly configuration: string;
}

export const SHIPPED: InClusterWebhook = {
  namespace: WEBHOOK_NAMESPACE,
  deployment: DEPLOYMENT,
  configuration: WEBHOOK_CONFIGURATION,
};

export async function caBundles(cluster: Cluster, name = WEBHOOK_CONFIGURATION): Promise<string[]> {
  const configuration = await cluster.admission.readMutatingWebhookConfiguration({ name });
  return (configuration.webhooks ?? []).map((webhook) => webhook.clientConfig.caBundle ?? '');
}

/** A server-side dry-run create in `namespace`: the pod as the API server would store it. */
export async function dryRunPod(cluster: Cluster, namespace: string, pod: V1Pod): Promise<V1Pod> {
  return cluster.core.createNamespacedPod({ namespace, body: pod, dryRun: 'All' });
}

export async function deployWebhook(
  cluster: Cluster,
  repoRoot: string,
  probeNamespace: string,
): Promise<void> {
  await cluster.kubectlOk(['apply', '-k', path.join(repoRoot, OVERLAY)]);
  await waitUntilServing(cluster, probeNamespace);
}

/**
 * What a user waits for after deploying: the Deployment rolled out, the caBundle written by
 * self-managed TLS, and a pod in `probeNamespace` (opted in to this webhook) admitted with `runAsUser`.
 */
export async function waitUntilServing(
  cluster: Cluster,
  probeNamespace: string,
  webhook: InClusterWebhook = SHIPPED,
  runAsUser = 65532,
): Promise<void> {
  await cluster.kubectlOk([
    'rollout',
    'status',
    `deployment/${webhook.deployment}`,
    '-n',
    webhook.namespace,
    '--timeout=180s',
  ]);
  await waitFor(
    'the caBundle written by self-managed TLS',
    async () =>
      (await caBundles(cluster, webhook.configuration)).every((bundle) => bundle !== '') ? true : undefined,
    { timeoutMs: 60_000, intervalMs: 500 },
  );
  await waitFor(
    'a pod admitted hardened through the Service',
    async () => {
      const pod = await dryRunPod(cluster, probeNamespace, {
        metadata: { name: 'probe' },
        spec: { containers: [{ name: 'c', image: 'localhost/e2e/busybox:latest' }] },
      });
      return pod.spec?.securityContext?.runAsUser === runAsUser ? true : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 500 },
  );
}
