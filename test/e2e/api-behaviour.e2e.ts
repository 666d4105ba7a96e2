/**
 * Scenarios 7, 8 and 9: server-side dry-run and `kubectl diff` (sideEffects: None), ephemeral
 * containers through the pods/ephemeralcontainers subresource, and reinvocation after a second
 * webhook injects a sidecar.
 */
import https from 'node:https';
import { expect } from 'chai';
import type { V1Pod } from '@kubernetes/client-node';
import { createNamespace, createPod, OPTED_IN, readPod, RESTRICTED } from './support/cluster.js';
import { e2e } from './support/context.js';
import { changesOf, expectChangesStored, expectFullyHardened, plainPod } from './support/expect-pod.js';
import { auditEventsOfPodCreation } from './support/audit-log.js';
import { createServingPair } from './support/pki.js';

describe('e2e: server-side dry-run (sideEffects: None)', () => {
  let namespace: string;

  before(async () => {
    namespace = await createNamespace(e2e().cluster, 'dryrun', { labels: { ...OPTED_IN, ...RESTRICTED } });
  });

  it('`kubectl apply --dry-run=server` returns the hardened pod and stores nothing', async () => {
    const { cluster } = e2e();
    const pod = plainPod('dry');
    const output = await cluster.kubectlOk(
      ['apply', '--dry-run=server', '-n', namespace, '-o', 'json', '-f', '-'],
      JSON.stringify(pod),
    );
    expectFullyHardened(JSON.parse(output) as V1Pod);
    const list = await cluster.core.listNamespacedPod({ namespace });
    expect(list.items.map((item) => item.metadata?.name)).to.not.include(pod.metadata?.name);
  });

  it('`kubectl diff` shows the fields the webhook would add', async () => {
    const { cluster } = e2e();
    const result = await cluster.kubectl(
      ['diff', '-n', namespace, '-f', '-'],
      JSON.stringify(plainPod('diff')),
    );
    // kubectl diff exits 1 when there are differences and above 1 on errors.
    expect(result.code, result.stderr).to.equal(1);
    expect(result.stdout).to.contain('readOnlyRootFilesystem: true');
    expect(result.stdout).to.contain('pod-hardener.io/changes');
  });
});

describe('e2e: ephemeral containers', () => {
  it('hardens a container added through pods/ephemeralcontainers and changes nothing else', async () => {
    const { cluster } = e2e();
    // Restricted enforcement also judges ephemeral containers: an unhardened one would be refused.
    const namespace = await createNamespace(cluster, 'debug', { labels: { ...OPTED_IN, ...RESTRICTED } });
    const created = await createPod(cluster, namespace, plainPod('debugged'));
    const name = created.metadata!.name!;
    const before = await readPod(cluster, namespace, name);

    const withDebugger = structuredClone(before);
    withDebugger.spec!.ephemeralContainers = [
      { name: 'debugger', image: 'busybox:1.36', command: ['sh'], stdin: true, tty: true },
    ];
    await cluster.core.replaceNamespacedPodEphemeralcontainers({ namespace, name, body: withDebugger });

    const after = await readPod(cluster, namespace, name);
    const [debuggerContainer] = after.spec?.ephemeralContainers ?? [];
    const context = debuggerContainer?.securityContext;
    expect(context?.allowPrivilegeEscalation).to.equal(false);
    expect(context?.capabilities?.drop).to.deep.equal(['ALL']);
    expect(context?.readOnlyRootFilesystem).to.equal(true);
    expect(debuggerContainer?.volumeMounts?.map((mount) => mount.mountPath)).to.include('/tmp');
    expect(debuggerContainer?.resources ?? {}).to.deep.equal({});
    expect(after.spec?.containers).to.deep.equal(before.spec?.containers);
    expect(after.spec?.volumes).to.deep.equal(before.spec?.volumes);
    expect(after.spec?.securityContext).to.deep.equal(before.spec?.securityContext);
    expect(after.metadata?.annotations).to.deep.equal(before.metadata?.annotations);
  });
});

const INJECT_LABEL = 'e2e.pod-hardener.io/inject';
const SIDECAR = 'injected-sidecar';

interface Review {
  request: { uid: string; object: V1Pod };
}

/**
 * A test-only webhook standing in for a service mesh: it appends a sidecar with no securityContext to
 * labelled pods. Its configuration name sorts after pod-hardener's, so the API server calls it after us.
 */
async function startSidecarInjector(): Promise<{ url: string; caPem: string; close: () => Promise<void> }> {
  const { caPem, serving } = await createServingPair();
  const server = https.createServer({ cert: serving.certPem, key: serving.keyPem }, (request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      const review = JSON.parse(body) as Review;
      const containers = review.request.object.spec?.containers ?? [];
      const patch = containers.some((container) => container.name === SIDECAR)
        ? []
        : [{ op: 'add', path: '/spec/containers/-', value: { name: SIDECAR, image: 'example/proxy:1' } }];
      response.setHeader('content-type', 'application/json');
      response.end(
        JSON.stringify({
          apiVersion: 'admission.k8s.io/v1',
          kind: 'AdmissionReview',
          response: {
            uid: review.request.uid,
            allowed: true,
            ...(patch.length > 0
              ? { patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') }
              : {}),
          },
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address !== 'object') throw new Error('injector has no port');
  return {
    url: `https://127.0.0.1:${address.port}/inject`,
    caPem,
    close: () =>
      new Promise((resolve) => {
        server.close(() => {
          resolve();
        });
      }),
  };
}

describe('e2e: reinvocation', () => {
  const configurationName = 'zz-e2e-sidecar-injector';
  let injector: Awaited<ReturnType<typeof startSidecarInjector>>;
  let namespace: string;

  before(async () => {
    const { cluster } = e2e();
    namespace = await createNamespace(cluster, 'reinvoke', { labels: { ...OPTED_IN, ...RESTRICTED } });
    injector = await startSidecarInjector();
    await cluster.admission.createMutatingWebhookConfiguration({
      body: {
        metadata: { name: configurationName },
        webhooks: [
          {
            name: 'sidecar.e2e.pod-hardener.io',
            clientConfig: { url: injector.url, caBundle: Buffer.from(injector.caPem).toString('base64') },
            rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }],
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
            objectSelector: { matchLabels: { [INJECT_LABEL]: 'true' } },
            sideEffects: 'None',
            admissionReviewVersions: ['v1'],
            failurePolicy: 'Fail',
            reinvocationPolicy: 'Never',
            timeoutSeconds: 5,
          },
        ],
      },
    });
  });

  after(async () => {
    await e2e()
      .cluster.admission.deleteMutatingWebhookConfiguration({ name: configurationName })
      .catch(() => undefined);
    await injector.close();
  });

  it('hardens a sidecar injected after pod-hardener ran (reinvocationPolicy: IfNeeded)', async () => {
    const { cluster } = e2e();
    const pod = plainPod('meshed');
    pod.metadata!.labels = { [INJECT_LABEL]: 'true' };
    // Admission in a restricted namespace already proves the sidecar was hardened; the checks say how.
    const created = await createPod(cluster, namespace, pod);
    const stored = await readPod(cluster, namespace, created.metadata!.name!);
    expect(stored.spec?.containers.map((container) => container.name)).to.deep.equal(['web', SIDECAR]);
    expectFullyHardened(stored);
    const sidecarChanges = changesOf(stored).filter((change) => change.target === SIDECAR);
    expect(sidecarChanges.map((change) => change.control)).to.include.members([
      'drop-all-capabilities',
      'no-privilege-escalation',
      'read-only-root-filesystem',
      'default-resources',
    ]);
    expectChangesStored(stored);

    // Both passes are in the API server's audit event, the second under keys of its own.
    const [event] = auditEventsOfPodCreation(namespace, stored.metadata!.name!);
    const annotations = event?.annotations ?? {};
    expect(annotations['pods.pod-hardener.io/changes']).to.equal(
      String(changesOf(stored).length - sidecarChanges.length),
    );
    expect(annotations['pods.pod-hardener.io/reinvocation-changes']).to.equal(String(sidecarChanges.length));
    expect(
      Object.keys(annotations).filter((key) => key.startsWith('mutation.webhook.admission.k8s.io/')),
    ).to.have.length(3);
  });
});
