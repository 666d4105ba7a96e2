/**
 * Scenarios 1, 2, 3 and 11: pods in an opted-in namespace that enforces Pod Security "restricted" are
 * admitted because they were hardened, controllers' pods are hardened while the controllers are not
 * touched, namespaces that did not opt in are left alone, and the API server's audit log carries the
 * webhook's audit annotations.
 */
import { expect } from 'chai';
import type { V1Pod } from '@kubernetes/client-node';
import { createNamespace, createPod, OPTED_IN, readPod, RESTRICTED } from './support/cluster.js';
import { e2e } from './support/context.js';
import { changesOf, expectFullyHardened, expectUntouched, plainPod } from './support/expect-pod.js';
import { waitFor } from './support/processes.js';
import { auditEventsOfPodCreation } from './support/audit-log.js';

describe('e2e: hardening in an opted-in namespace enforcing restricted', () => {
  let namespace: string;

  before(async () => {
    namespace = await createNamespace(e2e().cluster, 'harden', { labels: { ...OPTED_IN, ...RESTRICTED } });
  });

  async function admitted(pod: V1Pod): Promise<V1Pod> {
    const { cluster } = e2e();
    const created = await createPod(cluster, namespace, pod);
    return readPod(cluster, namespace, created.metadata!.name!);
  }

  it('admits a plain nginx-style pod and stores every hardening field', async () => {
    const stored = await admitted(plainPod('plain'));
    expectFullyHardened(stored);
  });

  it('lets a hardened pod be updated afterwards: labels and annotations change, the spec does not', async () => {
    const { cluster } = e2e();
    const stored = await admitted(plainPod('updated'));
    const name = stored.metadata!.name!;
    await cluster.kubectlOk(['label', 'pod', name, '-n', namespace, 'tier=frontend']);
    await cluster.kubectlOk(['annotate', 'pod', name, '-n', namespace, 'example.com/owner=team-a']);
    const updated = await readPod(cluster, namespace, name);
    expect(updated.metadata?.labels).to.include({ tier: 'frontend' });
    expect(updated.metadata?.annotations).to.include({ 'example.com/owner': 'team-a' });
    expect(updated.spec).to.deep.equal(stored.spec);
  });

  it('hardens every container of a multi-container pod', async () => {
    const stored = await admitted(
      plainPod('multi', {
        containers: [
          { name: 'app', image: 'example/app:1' },
          { name: 'metrics', image: 'example/exporter:1' },
          { name: 'proxy', image: 'envoyproxy/envoy:v1.31' },
        ],
      }),
    );
    expectFullyHardened(stored);
    const targets = new Set(changesOf(stored).map((change) => change.target));
    expect([...targets]).to.include.members(['pod', 'app', 'metrics', 'proxy']);
  });

  it('hardens init containers and restartable sidecars', async () => {
    const stored = await admitted(
      plainPod('init', {
        initContainers: [
          { name: 'migrate', image: 'example/migrate:1' },
          { name: 'log-shipper', image: 'example/shipper:1', restartPolicy: 'Always' },
        ],
      }),
    );
    expectFullyHardened(stored);
    expect(stored.spec?.initContainers?.map((container) => container.name)).to.deep.equal([
      'migrate',
      'log-shipper',
    ]);
  });

  it('never sets a memory limit below an existing request', async () => {
    const stored = await admitted(
      plainPod('big', {
        containers: [{ name: 'cache', image: 'redis:7', resources: { requests: { memory: '1Gi' } } }],
      }),
    );
    expectFullyHardened(stored);
    const resources = stored.spec?.containers[0]?.resources;
    expect(resources?.requests?.memory).to.equal('1Gi');
    expect(resources?.limits?.memory).to.equal('1Gi');
  });
});

describe('e2e: pods created by controllers', () => {
  it('hardens the pods of `kubectl create deployment` and leaves the Deployment as written', async () => {
    const { cluster } = e2e();
    const namespace = await createNamespace(cluster, 'deploy', { labels: { ...OPTED_IN, ...RESTRICTED } });
    await cluster.kubectlOk([
      'create',
      'deployment',
      'web',
      '--image=nginx:1.27',
      '--replicas=2',
      '-n',
      namespace,
    ]);
    const pods = await waitFor(
      'the ReplicaSet to create two pods',
      async () => {
        const list = await cluster.core.listNamespacedPod({ namespace, labelSelector: 'app=web' });
        return list.items.length === 2 ? list.items : undefined;
      },
      { timeoutMs: 60_000 },
    );
    for (const pod of pods) expectFullyHardened(pod);

    const deployment = await cluster.apps.readNamespacedDeployment({ namespace, name: 'web' });
    expect(deployment.metadata?.generation, 'never updated after creation').to.equal(1);
    const template = deployment.spec?.template;
    expect(template?.metadata?.annotations?.['pod-hardener.io/changes']).to.be.undefined;
    expect(template?.spec?.securityContext ?? {}).to.deep.equal({});
    expect(template?.spec?.containers[0]?.securityContext).to.be.undefined;
    expect(template?.spec?.volumes).to.be.undefined;
  });
});

describe('e2e: a namespace that did not opt in', () => {
  it('stores pods unchanged', async () => {
    const { cluster } = e2e();
    const namespace = await createNamespace(cluster, 'plain');
    const created = await createPod(cluster, namespace, plainPod('untouched'));
    expectUntouched(await readPod(cluster, namespace, created.metadata!.name!));
  });

  it('stores pods unchanged when the label has any value other than "true"', async () => {
    const { cluster } = e2e();
    const namespace = await createNamespace(cluster, 'false', {
      labels: { 'pod-hardener.io/enabled': 'false' },
    });
    const created = await createPod(cluster, namespace, plainPod('untouched'));
    expectUntouched(await readPod(cluster, namespace, created.metadata!.name!));
  });
});

describe('e2e: the API server audit log', () => {
  it("records the webhook's audit annotations and its mutation for a hardened pod", async () => {
    const { cluster } = e2e();
    const namespace = await createNamespace(cluster, 'audit', { labels: { ...OPTED_IN, ...RESTRICTED } });
    const created = await createPod(cluster, namespace, plainPod('audited'));
    const name = created.metadata!.name!;
    const [event] = auditEventsOfPodCreation(namespace, name);
    const annotations = event?.annotations ?? {};
    expect(annotations['pods.pod-hardener.io/mode']).to.equal('enforce');
    expect(annotations['pods.pod-hardener.io/patched']).to.equal('true');
    expect(Number(annotations['pods.pod-hardener.io/changes'])).to.equal(changesOf(created).length);
    expect(annotations['pods.pod-hardener.io/controls']).to.match(/run-as-non-root=\d+/);
    const mutation = Object.entries(annotations).find(([key]) =>
      key.startsWith('mutation.webhook.admission.k8s.io/'),
    );
    expect(mutation, 'the mutation record').to.not.be.undefined;
    expect(JSON.parse(mutation![1])).to.include({
      configuration: 'pod-hardener',
      webhook: 'pods.pod-hardener.io',
      mutated: true,
    });
  });
});
