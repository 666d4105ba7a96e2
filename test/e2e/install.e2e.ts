/**
 * Scenarios 10 and 12 and the self-managed TLS flow: every rendered manifest passes server-side
 * dry-run, the webhook's own Deployment is admitted where "restricted" is enforced, the webhook
 * created its Secret and patched its caBundle, a serving-certificate rotation loses no review, and
 * the shipped failurePolicy and its overlay do what the README says while the webhook is down.
 */
import { X509Certificate } from 'node:crypto';
import path from 'node:path';
import tls from 'node:tls';
import { expect } from 'chai';
import {
  createNamespace,
  createPod,
  OPTED_IN,
  readPod,
  renderKustomization,
  RESTRICTED,
  type Manifest,
} from './support/cluster.js';
import { e2e } from './support/context.js';
import { expectFullyHardened, expectUntouched, plainPod } from './support/expect-pod.js';
import { sleep, waitFor } from './support/processes.js';
import {
  applyManifests,
  pointAt,
  TLS_SECRET,
  WEBHOOK_CONFIGURATION,
  WEBHOOK_NAMESPACE,
} from './support/webhook.js';

const OVERLAYS = [
  'base',
  'overlays/failure-policy-ignore',
  'overlays/cert-manager',
  'overlays/network-policy',
];

async function render(overlay: string): Promise<Manifest[]> {
  const { cluster, repoRoot } = e2e();
  return renderKustomization(cluster, path.join(repoRoot, 'manifests', overlay));
}

describe('e2e: manifests', () => {
  for (const overlay of OVERLAYS) {
    it(`${overlay}: every object passes kubectl apply --dry-run=server`, async () => {
      const manifests = await render(overlay);
      expect(manifests.length).to.be.greaterThan(0);
      // cert-manager's CRDs are not installed here; its objects are checked by rendering only.
      const checkable = manifests.filter(
        (manifest) => !String(manifest.apiVersion).startsWith('cert-manager.io/'),
      );
      const result = await applyManifests(e2e().cluster, checkable, ['--dry-run=server']);
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stderr, 'no Pod Security warnings for our own workload').to.not.match(
        /violate PodSecurity/,
      );
    });
  }

  it('bounds every webhook call: timeoutSeconds at most 5, sideEffects None, only CREATE and ephemeral UPDATE', async () => {
    const configuration = (await render('base')).find((m) => m.kind === 'MutatingWebhookConfiguration');
    const webhooks = (configuration?.webhooks ?? []) as {
      timeoutSeconds?: number;
      sideEffects?: string;
      rules?: { operations?: string[]; resources?: string[] }[];
    }[];
    expect(webhooks).to.have.length.greaterThan(0);
    for (const webhook of webhooks) {
      expect(webhook.timeoutSeconds).to.be.within(1, 5);
      expect(webhook.sideEffects).to.equal('None');
      const pairs = (webhook.rules ?? []).flatMap((rule) =>
        (rule.operations ?? []).flatMap((op) =>
          (rule.resources ?? []).map((resource) => `${op} ${resource}`),
        ),
      );
      expect(pairs.sort()).to.deep.equal(['CREATE pods', 'UPDATE pods/ephemeralcontainers']);
    }
  });

  it("admits the webhook's own Deployment's pods in its namespace, which enforces restricted", async () => {
    const { cluster } = e2e();
    const namespace = await cluster.core.readNamespace({ name: WEBHOOK_NAMESPACE });
    expect(namespace.metadata?.labels).to.include(RESTRICTED);
    // Opted in by mistake: only the selector's exclusion by name keeps the webhook off its own pods
    // (pitfall: a webhook that serves its own namespace can deadlock its own restart).
    await cluster.kubectlOk(['label', 'namespace', WEBHOOK_NAMESPACE, 'pod-hardener.io/enabled=true']);
    const workload = (await render('base')).filter((manifest) =>
      ['Deployment', 'Service', 'PodDisruptionBudget'].includes(manifest.kind),
    );
    const result = await applyManifests(cluster, workload);
    expect(result.code, result.stderr).to.equal(0);
    // No kubelet runs here: pods are admitted and stay Pending, which is what is being judged.
    const pods = await waitFor(
      'the ReplicaSet to create the webhook pods',
      async () => {
        const list = await cluster.core.listNamespacedPod({
          namespace: WEBHOOK_NAMESPACE,
          labelSelector: 'app.kubernetes.io/name=pod-hardener',
        });
        return list.items.length >= 2 ? list.items : undefined;
      },
      { timeoutMs: 60_000 },
    );
    for (const pod of pods) {
      expect(pod.metadata?.annotations?.['pod-hardener.io/changes'], 'its own namespace is never hardened').to
        .be.undefined;
      expect(pod.spec?.securityContext?.runAsNonRoot).to.equal(true);
    }
  });
});

function servedCertificate(url: string, caPem: string): Promise<X509Certificate> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tls.connect(
      { host: hostname, port: Number(port), ca: caPem, servername: undefined },
      () => {
        const peer = socket.getPeerX509Certificate();
        socket.end();
        if (peer === undefined) reject(new Error('no peer certificate'));
        else resolve(peer);
      },
    );
    socket.once('error', reject);
  });
}

async function readTlsSecret(): Promise<Record<string, string>> {
  const secret = await e2e().cluster.core.readNamespacedSecret({
    namespace: WEBHOOK_NAMESPACE,
    name: TLS_SECRET,
  });
  return Object.fromEntries(
    Object.entries(secret.data ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64').toString()]),
  );
}

describe('e2e: self-managed TLS', () => {
  it('created its Secret and put its CA bundle into the webhook configuration', async () => {
    const { cluster, webhook } = e2e();
    const secret = await readTlsSecret();
    expect(secret).to.include.keys('tls.crt', 'tls.key', 'ca.crt', 'ca-bundle.crt');
    const configuration = await cluster.admission.readMutatingWebhookConfiguration({
      name: WEBHOOK_CONFIGURATION,
    });
    for (const hook of configuration.webhooks ?? []) {
      expect(Buffer.from(hook.clientConfig.caBundle ?? '', 'base64').toString()).to.equal(
        secret['ca-bundle.crt'],
      );
    }
    // The certificate the webhook serves is trusted through that bundle for the address the API server dials.
    const served = await servedCertificate(webhook.url, secret['ca-bundle.crt']!);
    expect(served.checkIP('127.0.0.1')).to.equal('127.0.0.1');
  });

  it('rotates the serving certificate and the CA without failing a review', async function () {
    this.timeout(300_000);
    const { cluster, webhook } = e2e();
    const namespace = await createNamespace(cluster, 'rotation', { labels: { ...OPTED_IN, ...RESTRICTED } });
    const initial = await readTlsSecret();
    const initialServed = await servedCertificate(webhook.url, initial['ca-bundle.crt']!);
    const initialCa = new X509Certificate(initial['ca.crt']!).fingerprint256;
    let reviews = 0;
    let servingRotatedAt: number | undefined;
    let servedByNewCaAt: number | undefined;
    const deadline = Date.now() + 270_000;
    // Pods keep arriving through both rotations; with failurePolicy Fail any TLS failure is an error here.
    while (Date.now() < deadline) {
      const created = await createPod(cluster, namespace, plainPod('during-rotation'));
      expectFullyHardened(await readPod(cluster, namespace, created.metadata!.name!));
      reviews += 1;
      const secret = await readTlsSecret();
      const served = await servedCertificate(webhook.url, secret['ca-bundle.crt']!);
      const currentCa = new X509Certificate(secret['ca.crt']!);
      if (servingRotatedAt === undefined && served.serialNumber !== initialServed.serialNumber) {
        servingRotatedAt = reviews;
      }
      if (
        servedByNewCaAt === undefined &&
        currentCa.fingerprint256 !== initialCa &&
        served.checkIssued(currentCa)
      ) {
        servedByNewCaAt = reviews;
      }
      if (servedByNewCaAt !== undefined && reviews >= servedByNewCaAt + 5) break;
      await sleep(1_000);
    }
    expect(servingRotatedAt, 'the served certificate changed within the deadline').to.not.be.undefined;
    expect(servedByNewCaAt, 'a certificate from a new CA was served within the deadline').to.not.be.undefined;
    expect(reviews).to.be.greaterThan(servedByNewCaAt!);
  });
});

describe('e2e: webhook down', () => {
  let namespace: string;

  before(async () => {
    namespace = await createNamespace(e2e().cluster, 'down', { labels: { ...OPTED_IN } });
    await e2e().webhook.stop();
  });

  after(async () => {
    const { cluster, webhook } = e2e();
    const base = (await render('base')).find((manifest) => manifest.kind === 'MutatingWebhookConfiguration')!;
    await applyManifests(cluster, [pointAt(base, webhook.url)]);
    await webhook.start();
    const probe = await createNamespace(cluster, 'back', { labels: { ...OPTED_IN } });
    await waitFor(
      'pods to be hardened again',
      async () => {
        const created = await createPod(cluster, probe, plainPod('back'));
        return created.metadata?.annotations?.['pod-hardener.io/changes'] !== undefined ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 1_000 },
    );
  });

  it('failurePolicy Fail (shipped): the pod is refused with an error naming the webhook', async () => {
    const { cluster } = e2e();
    let refusal: unknown;
    try {
      await createPod(cluster, namespace, plainPod('refused'));
    } catch (error) {
      refusal = error;
    }
    const body = (refusal as { body?: unknown } | undefined)?.body;
    expect(body, String(refusal)).to.be.a('string');
    const status = JSON.parse(body as string) as { code: number; message: string };
    expect(status.code).to.equal(500);
    expect(status.message).to.contain('failed calling webhook "pods.pod-hardener.io"');
    expect(status.message).to.contain('connection refused');
  });

  it('failurePolicy Ignore (overlay): the pod is admitted unhardened', async () => {
    const { cluster, webhook } = e2e();
    const ignoring = (await render('overlays/failure-policy-ignore')).find(
      (manifest) => manifest.kind === 'MutatingWebhookConfiguration',
    )!;
    const result = await applyManifests(cluster, [pointAt(ignoring, webhook.url)]);
    expect(result.code, result.stderr).to.equal(0);
    // The API server picks up webhook configuration changes through a watch, so give it a moment.
    const stored = await waitFor(
      'the Ignore policy to take effect',
      async () => {
        const created = await createPod(cluster, namespace, plainPod('admitted-unhardened'));
        return readPod(cluster, namespace, created.metadata!.name!);
      },
      { timeoutMs: 20_000, intervalMs: 1_000 },
    );
    expectUntouched(stored);
  });
});
