/**
 * Operation under load, on the node: while a client creates pods steadily (bounded in count and
 * time), the webhook Deployment is rolled (a new ReplicaSet), one replica is deleted, and a
 * serving-certificate rotation is forced. With failurePolicy Fail, not one create may fail, and the
 * webhook container must never be OOMKilled or restarted (the kubelet's container statuses).
 */
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { expect } from 'chai';
import type { V1Pod } from '@kubernetes/client-node';
import { createNamespace, OPTED_IN, RESTRICTED } from '../support/cluster.js';
import { DEPLOYMENT } from '../support/in-cluster.js';
import { onNode } from '../support/node-context.js';
import { busybox, nodePod } from '../support/on-node.js';
import { sleep, waitFor } from '../support/processes.js';
import { TLS_SECRET, WEBHOOK_NAMESPACE } from '../support/webhook.js';

const SELECTOR = 'app.kubernetes.io/name=pod-hardener';
const CREATE_INTERVAL_MS = 250;
const MAX_CREATES = 1200;

interface ClientResult {
  created: number;
  failures: string[];
  unhardened: string[];
}

/** Creates pods one after another until stopped or MAX_CREATES. They never run (no node matches). */
function startClient(namespace: string): { stop: () => Promise<ClientResult> } {
  const { cluster } = onNode();
  const result: ClientResult = { created: 0, failures: [], unhardened: [] };
  let stopping = false;
  const loop = (async () => {
    for (let i = 0; i < MAX_CREATES && !stopping; i += 1) {
      const began = Date.now();
      const body: V1Pod = nodePod(`load-${i}`, {
        // Admission is what is under test; the pods stay Pending so the node's two cores serve the webhook.
        nodeSelector: { 'pod-hardener.io/e2e': 'never' },
        containers: [busybox('app', ['true'])],
      });
      try {
        const pod = await cluster.core.createNamespacedPod({ namespace, body });
        result.created += 1;
        if (pod.spec?.securityContext?.runAsUser !== 65532) result.unhardened.push(`load-${i}`);
      } catch (error) {
        result.failures.push(`load-${i} at ${new Date().toISOString()}: ${String(error).slice(0, 400)}`);
      }
      await sleep(Math.max(0, CREATE_INTERVAL_MS - (Date.now() - began)));
    }
  })();
  return {
    stop: async () => {
      stopping = true;
      await loop;
      return result;
    },
  };
}

/** Watches every webhook pod's container status once a second for a restart or an OOMKill. */
function startMonitor(): { stop: () => Promise<string[]> } {
  const { cluster } = onNode();
  const problems = new Set<string>();
  let stopping = false;
  const loop = (async () => {
    while (!stopping) {
      const pods = await cluster.core.listNamespacedPod({
        namespace: WEBHOOK_NAMESPACE,
        labelSelector: SELECTOR,
      });
      for (const pod of pods.items) {
        for (const status of pod.status?.containerStatuses ?? []) {
          const name = `${pod.metadata?.name}/${status.name}`;
          if (status.restartCount > 0) problems.add(`${name} restarted ${status.restartCount} times`);
          for (const terminated of [status.state?.terminated, status.lastState?.terminated]) {
            if (terminated?.reason === 'OOMKilled') problems.add(`${name} OOMKilled`);
          }
        }
      }
      await sleep(1000);
    }
  })();
  return {
    stop: async () => {
      stopping = true;
      await loop;
      return [...problems];
    },
  };
}

async function rolledOut(): Promise<void> {
  await onNode().cluster.kubectlOk([
    'rollout',
    'status',
    `deployment/${DEPLOYMENT}`,
    '-n',
    WEBHOOK_NAMESPACE,
    '--timeout=180s',
  ]);
}

async function readyPods(): Promise<V1Pod[]> {
  const pods = await onNode().cluster.core.listNamespacedPod({
    namespace: WEBHOOK_NAMESPACE,
    labelSelector: SELECTOR,
  });
  return pods.items.filter(
    (pod) =>
      pod.metadata?.deletionTimestamp === undefined &&
      pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
  );
}

/** The serving certificate a replica presents, read from the node over the pod network. */
function servedCertificate(podIp: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect(
      {
        host: podIp,
        port: 8443,
        servername: 'pod-hardener.pod-hardener-system.svc',
        rejectUnauthorized: false,
      },
      () => {
        const raw = socket.getPeerX509Certificate();
        socket.end();
        if (raw === undefined) reject(new Error('no certificate'));
        else resolve(raw.fingerprint256);
      },
    );
    socket.setTimeout(3000, () => socket.destroy(new Error('timed out')));
    socket.once('error', reject);
  });
}

describe('e2e node: operation under load', () => {
  it('while pods are created steadily: roll the Deployment, delete a replica, force a certificate rotation; 0 failed creates, no webhook restart or OOMKill', async function () {
    this.timeout(10 * 60_000);
    const { cluster } = onNode();
    const namespace = await createNamespace(cluster, 'load', { labels: { ...OPTED_IN, ...RESTRICTED } });
    const monitor = startMonitor();
    const client = startClient(namespace);
    const log = (line: string) => process.stderr.write(`      load: ${line}\n`);
    try {
      await sleep(5000);

      log('rolling the Deployment');
      const before = (await readyPods()).map((pod) => pod.metadata?.labels?.['pod-template-hash']);
      await cluster.kubectlOk(['rollout', 'restart', `deployment/${DEPLOYMENT}`, '-n', WEBHOOK_NAMESPACE]);
      await rolledOut();
      const after = await waitFor(
        'only the new ReplicaSet serving',
        async () => {
          const pods = await readyPods();
          const all = await cluster.core.listNamespacedPod({
            namespace: WEBHOOK_NAMESPACE,
            labelSelector: SELECTOR,
          });
          return pods.length === 2 && all.items.length === 2 ? pods : undefined;
        },
        { timeoutMs: 120_000, intervalMs: 1000 },
      );
      expect(after.map((pod) => pod.metadata?.labels?.['pod-template-hash'])).to.not.include.members(
        before.filter((hash) => hash !== undefined),
      );

      log('deleting one replica');
      await cluster.core.deleteNamespacedPod({
        namespace: WEBHOOK_NAMESPACE,
        name: after[0]?.metadata?.name ?? '',
      });
      await waitFor(
        'a replacement replica ready',
        async () => {
          const pods = await readyPods();
          const all = await cluster.core.listNamespacedPod({
            namespace: WEBHOOK_NAMESPACE,
            labelSelector: SELECTOR,
          });
          return pods.length === 2 && all.items.length === 2 ? true : undefined;
        },
        { timeoutMs: 120_000, intervalMs: 1000 },
      );

      log('forcing a serving-certificate rotation');
      const secret = await cluster.core.readNamespacedSecret({
        name: TLS_SECRET,
        namespace: WEBHOOK_NAMESPACE,
      });
      const oldCert = new X509Certificate(Buffer.from(secret.data?.['tls.crt'] ?? '', 'base64'))
        .fingerprint256;
      // An unusable serving pair is replaced at once by one from the current (already trusted) CA. The
      // keys stay (a kubernetes.io/tls Secret requires them); empty values are what "unusable" takes.
      await cluster.kubectlOk([
        'patch',
        'secret',
        TLS_SECRET,
        '-n',
        WEBHOOK_NAMESPACE,
        '--type=json',
        '-p',
        '[{"op":"replace","path":"/data/tls.crt","value":""},{"op":"replace","path":"/data/tls.key","value":""}]',
      ]);
      await waitFor(
        'every replica serving a new certificate',
        async () => {
          const served = await Promise.all(
            (await readyPods()).map((pod) => servedCertificate(pod.status?.podIP ?? '')),
          );
          return served.length === 2 && served.every((fingerprint) => fingerprint !== oldCert)
            ? true
            : undefined;
        },
        { timeoutMs: 120_000, intervalMs: 1000 },
      );
      await sleep(5000);
    } finally {
      const result = await client.stop();
      const problems = await monitor.stop();
      log(`${result.created} pods created, ${result.failures.length} failed`);
      expect(result.failures, 'failed creates').to.deep.equal([]);
      expect(result.unhardened, 'pods admitted unhardened').to.deep.equal([]);
      expect(result.created).to.be.greaterThan(50);
      expect(problems, 'webhook restarts or OOMKills').to.deep.equal([]);
    }
    for (const pod of await readyPods()) {
      const status = pod.status?.containerStatuses?.[0];
      expect(status?.restartCount, `${pod.metadata?.name} restarts`).to.equal(0);
      expect(status?.lastState?.terminated, `${pod.metadata?.name} last termination`).to.be.undefined;
    }
  });
});
