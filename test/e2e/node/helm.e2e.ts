/**
 * The Helm chart on the real node: `helm install` of charts/pod-hardener with the locally assembled
 * image, a pod in a namespace opted in to that release hardened and running, `helm upgrade` with a
 * changed value taking effect without a refused pod, and `helm uninstall` leaving the cluster creating
 * pods normally at once (the webhook configuration goes before its Service).
 *
 * The shipped manifests' webhook keeps running beside it (the other node scenarios use it). The release
 * uses its own annotation prefix, so its opt-in label is `helm.pod-hardener.io/enabled` and the two
 * webhooks never serve the same namespace: what the release does is told apart by its annotations.
 */
import { expect } from 'chai';
import type { V1Pod } from '@kubernetes/client-node';
import { createNamespace, OPTED_IN, RESTRICTED } from '../support/cluster.js';
import { changesOf } from '../support/expect-pod.js';
import { CHART, helmFor, type Helm } from '../support/helm.js';
import { caBundles, dryRunPod, waitUntilServing, type InClusterWebhook } from '../support/in-cluster.js';
import { onNode } from '../support/node-context.js';
import { WEBHOOK_IMAGE } from '../support/node.js';
import { busybox, nodePod, runPod } from '../support/on-node.js';
import { sleep, waitFor } from '../support/processes.js';

const PREFIX = 'helm.pod-hardener.io';
const RELEASE: InClusterWebhook = {
  namespace: 'pod-hardener-helm',
  deployment: 'pod-hardener-helm',
  configuration: 'pod-hardener-helm',
};
const [IMAGE_REPOSITORY, IMAGE_TAG] = WEBHOOK_IMAGE.split(':') as [string, string];

function releaseArgs(extra: readonly string[]): string[] {
  return [
    RELEASE.deployment,
    CHART,
    '--namespace',
    RELEASE.namespace,
    '--set',
    `image.repository=${IMAGE_REPOSITORY}`,
    '--set',
    `image.tag=${IMAGE_TAG}`,
    '--set',
    `config.annotationPrefix=${PREFIX}`,
    '--wait',
    '--timeout',
    '180s',
    ...extra,
  ];
}

function releaseChanges(pod: V1Pod): string | undefined {
  return pod.metadata?.annotations?.[`${PREFIX}/changes`];
}

describe('e2e node: the Helm chart installed, upgraded and uninstalled', function () {
  let helm: Helm;
  let optedIn: string;
  // Opted in to the release without Pod Security: after the uninstall its pods are admitted unhardened,
  // which "restricted" would refuse for reasons of its own.
  let optedInNoPsa: string;
  let kubeconfig: string;

  before(async function () {
    this.timeout(30 * 60_000);
    const { cluster, repoRoot } = onNode();
    helm = helmFor(repoRoot);
    kubeconfig = cluster.kubeconfigPath;
    // The release namespace enforces "restricted", as the kustomize base's does: the chart's own pods must pass.
    await cluster.core.createNamespace({
      body: { metadata: { name: RELEASE.namespace, labels: { ...RESTRICTED } } },
    });
    optedIn = await createNamespace(cluster, 'helm', {
      labels: { [`${PREFIX}/enabled`]: 'true', ...RESTRICTED },
    });
    optedInNoPsa = await createNamespace(cluster, 'helm-nopsa', {
      labels: { [`${PREFIX}/enabled`]: 'true' },
    });
  });

  after(async function () {
    this.timeout(180_000);
    const { cluster } = onNode();
    await helm?.run(
      ['uninstall', RELEASE.deployment, '--namespace', RELEASE.namespace, '--ignore-not-found', '--wait'],
      {
        kubeconfig,
      },
    );
    await cluster.kubectl(['delete', 'namespace', RELEASE.namespace, '--ignore-not-found', '--wait=false']);
  });

  it('helm install: the release serves, and a pod in a namespace opted in to it runs hardened', async function () {
    this.timeout(300_000);
    const { cluster } = onNode();
    await helm.ok(['install', ...releaseArgs([])], { kubeconfig, timeoutMs: 240_000 });
    await waitUntilServing(cluster, optedIn, RELEASE);
    const pod = await runPod(
      cluster,
      optedIn,
      nodePod('hardened', { containers: [busybox('app', ['sleep', '3600'])] }),
    );
    expect(releaseChanges(pod), 'the release recorded its changes').to.be.a('string');
    expect(changesOf(pod), 'the shipped webhook did not serve this namespace').to.be.empty;
    expect(pod.spec?.securityContext?.runAsUser).to.equal(65532);
    expect(pod.spec?.containers[0]?.securityContext).to.include({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
    });
    // Its own pods: 2 ready replicas of the local image, never hardened by themselves.
    const own = (
      await cluster.core.listNamespacedPod({
        namespace: RELEASE.namespace,
        labelSelector: `app.kubernetes.io/instance=${RELEASE.deployment}`,
      })
    ).items;
    expect(own).to.have.length(2);
    for (const replica of own) {
      expect(replica.spec?.containers[0]?.image).to.equal(WEBHOOK_IMAGE);
      expect(releaseChanges(replica)).to.be.undefined;
    }
  });

  it('helm upgrade with a changed value: pods roll, the caBundle stays, new pods get the new value', async function () {
    this.timeout(300_000);
    const { cluster } = onNode();
    const bundles = await caBundles(cluster, RELEASE.configuration);
    await helm.ok(['upgrade', ...releaseArgs(['--set', 'config.runAsUser=10001'])], {
      kubeconfig,
      timeoutMs: 240_000,
    });
    expect(
      await caBundles(cluster, RELEASE.configuration),
      'helm left the caBundle the server wrote',
    ).to.deep.equal(bundles);
    await waitUntilServing(cluster, optedIn, RELEASE, 10001);
    const pod = await runPod(
      cluster,
      optedIn,
      nodePod('upgraded', { containers: [busybox('app', ['sleep', '3600'])] }),
    );
    expect(pod.spec?.securityContext?.runAsUser).to.equal(10001);
    expect(releaseChanges(pod)).to.be.a('string');
  });

  it('helm uninstall: no pod is refused while it runs, and pods are created normally right after', async function () {
    this.timeout(300_000);
    const { cluster } = onNode();
    // Pods keep arriving in the opted-in namespace during the uninstall: with failurePolicy Fail, a
    // webhook configuration that outlived its Service or pods would refuse them.
    const refused: string[] = [];
    let admitted = 0;
    let hardened = 0;
    let uninstalling = true;
    const creating = (async () => {
      while (uninstalling) {
        try {
          const pod = await dryRunPod(
            cluster,
            optedInNoPsa,
            nodePod('during-uninstall', { containers: [busybox('app', ['true'])] }),
          );
          admitted += 1;
          if (releaseChanges(pod) !== undefined) hardened += 1;
        } catch (error) {
          refused.push(String(error));
        }
        await sleep(100);
      }
    })();
    try {
      await helm.ok(
        ['uninstall', RELEASE.deployment, '--namespace', RELEASE.namespace, '--wait', '--timeout', '120s'],
        {
          kubeconfig,
          timeoutMs: 180_000,
        },
      );
      await sleep(2_000);
    } finally {
      uninstalling = false;
      await creating;
    }
    expect(
      refused.length,
      `pods refused during the uninstall (${admitted} admitted):\n${refused.slice(0, 3).join('\n')}`,
    ).to.equal(0);
    // The loop overlapped the release's life: its first pods were hardened, its last ones not.
    expect(hardened, `${hardened} of ${admitted} hardened`).to.be.within(1, admitted - 1);
    const configurations = await cluster.admission.listMutatingWebhookConfiguration();
    expect(configurations.items.map((c) => c.metadata?.name)).to.not.include(RELEASE.configuration);
    // Still labelled for the release, whose failurePolicy was Fail: created as submitted, nothing refused.
    const pod = await runPod(
      cluster,
      optedInNoPsa,
      nodePod('after-uninstall', { containers: [busybox('app', ['sleep', '3600'])] }),
    );
    expect(releaseChanges(pod)).to.be.undefined;
    expect(pod.spec?.securityContext?.runAsUser).to.be.undefined;
    // The shipped webhook still hardens its own opted-in namespaces.
    const shipped = await createNamespace(cluster, 'after-helm', { labels: { ...OPTED_IN } });
    const shippedPod = await waitFor(
      'the shipped webhook to harden a pod',
      async () => {
        const dry = await dryRunPod(
          cluster,
          shipped,
          nodePod('shipped', { containers: [busybox('app', ['true'])] }),
        );
        return dry.spec?.securityContext?.runAsUser === 65532 ? dry : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    expect(changesOf(shippedPod)).to.not.be.empty;
    const left = await cluster.apps.listNamespacedDeployment({ namespace: RELEASE.namespace });
    expect(left.items).to.be.empty;
  });
});
