/**
 * The webhook as the shipped manifests run it: from `kubectl apply -k` of an overlay that only swaps
 * the image, on the node, reached by the API server through its Service, with self-managed TLS and no
 * hand work; its own namespace stays excluded; readiness gates pod creation in opted-in namespaces.
 */
import { expect } from 'chai';
import { createNamespace, OPTED_IN, RESTRICTED } from '../support/cluster.js';
import { changesOf } from '../support/expect-pod.js';
import { caBundles, DEPLOYMENT, dryRunPod } from '../support/in-cluster.js';
import { onNode } from '../support/node-context.js';
import { WEBHOOK_IMAGE } from '../support/node.js';
import { busybox, nodePod } from '../support/on-node.js';
import { waitFor } from '../support/processes.js';
import { TLS_SECRET, WEBHOOK_CONFIGURATION, WEBHOOK_NAMESPACE } from '../support/webhook.js';

const SELECTOR = 'app.kubernetes.io/name=pod-hardener';

async function scale(replicas: number): Promise<void> {
  const { cluster } = onNode();
  await cluster.kubectlOk([
    'scale',
    `deployment/${DEPLOYMENT}`,
    '-n',
    WEBHOOK_NAMESPACE,
    `--replicas=${replicas}`,
  ]);
}

describe('e2e node: the webhook in-cluster from the shipped manifests', () => {
  it('runs 2 ready replicas of the local image, unhardened by itself, as UID 65532 with a read-only root', async () => {
    const { cluster } = onNode();
    const pods = (
      await cluster.core.listNamespacedPod({ namespace: WEBHOOK_NAMESPACE, labelSelector: SELECTOR })
    ).items;
    const ready = pods.filter((pod) =>
      pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    );
    expect(ready).to.have.length(2);
    for (const pod of ready) {
      expect(pod.spec?.containers[0]?.image).to.equal(WEBHOOK_IMAGE);
      expect(pod.spec?.nodeName).to.equal(onNode().node.name);
      // Its namespace is excluded by name: the pod is exactly what the Deployment says.
      expect(changesOf(pod), 'no changes record on our own pods').to.be.empty;
      const name = pod.metadata?.name ?? '';
      const uid = await cluster.kubectlOk([
        'get',
        'pod',
        '-n',
        WEBHOOK_NAMESPACE,
        name,
        '-o',
        'jsonpath={.spec.securityContext.runAsUser}',
      ]);
      expect(uid).to.equal('65532');
    }
  });

  it('is called through its Service, with the CA self-managed TLS wrote into the caBundle', async () => {
    const { cluster } = onNode();
    const configuration = await cluster.admission.readMutatingWebhookConfiguration({
      name: WEBHOOK_CONFIGURATION,
    });
    for (const webhook of configuration.webhooks ?? []) {
      expect(webhook.clientConfig.service?.name).to.equal('pod-hardener');
      expect(webhook.clientConfig.url).to.be.undefined;
      expect(webhook.failurePolicy).to.equal('Fail');
    }
    const secret = await cluster.core.readNamespacedSecret({
      name: TLS_SECRET,
      namespace: WEBHOOK_NAMESPACE,
    });
    const ca = Buffer.from(secret.data?.['ca.crt'] ?? '', 'base64').toString();
    for (const bundle of await caBundles(cluster)) {
      expect(Buffer.from(bundle, 'base64').toString()).to.include(ca.trim());
    }
    const namespace = await createNamespace(cluster, 'svc', { labels: { ...OPTED_IN, ...RESTRICTED } });
    const pod = await dryRunPod(
      cluster,
      namespace,
      nodePod('through-service', { containers: [busybox('app', ['true'])] }),
    );
    expect(pod.spec?.securityContext?.runAsUser).to.equal(65532);
  });

  it('gates pod creation on readiness: no ready replica refuses pods (failurePolicy Fail), ready replicas admit them again', async () => {
    const { cluster } = onNode();
    const namespace = await createNamespace(cluster, 'gate', { labels: { ...OPTED_IN } });
    const body = nodePod('gated', { containers: [busybox('app', ['true'])] });
    try {
      await scale(0);
      await waitFor(
        'the webhook to refuse pods with no ready replica',
        async () => {
          try {
            await dryRunPod(cluster, namespace, body);
            return undefined;
          } catch (error) {
            return String(error);
          }
        },
        { timeoutMs: 60_000, intervalMs: 500 },
      ).then((error) => expect(error).to.include('pods.pod-hardener.io'));
    } finally {
      await scale(2);
      await cluster.kubectlOk([
        'rollout',
        'status',
        `deployment/${DEPLOYMENT}`,
        '-n',
        WEBHOOK_NAMESPACE,
        '--timeout=120s',
      ]);
    }
    const pod = await waitFor(
      'pods admitted again',
      async () => {
        try {
          return await dryRunPod(cluster, namespace, body);
        } catch {
          return undefined;
        }
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(pod.spec?.securityContext?.runAsUser).to.equal(65532);
  });
});
