/**
 * Windows pods, however they are marked, in an opted-in namespace that enforces Pod Security
 * "restricted": spec.os.name, a nodeSelector on kubernetes.io/os or the legacy beta label, a required
 * node affinity, and a RuntimeClass whose scheduling.nodeSelector the API server's RuntimeClass
 * admission merges into the pod before webhooks run. There is no Windows node, so the pods stay
 * Pending; what is judged is admission: the real API server's validation (which, with spec.os.name
 * windows, rejects every Linux-only field) and Pod Security (which exempts a pod from its Linux-only
 * checks by spec.os.name alone).
 */
import { expect } from 'chai';
import type { V1Pod } from '@kubernetes/client-node';
import { createNamespace, OPTED_IN, RESTRICTED, warningsOf } from './support/cluster.js';
import { e2e } from './support/context.js';
import { allContainers, changesOf, expectChangesStored, plainPod } from './support/expect-pod.js';

const SERVERCORE_IIS = 'mcr.microsoft.com/windows/servercore/iis:windowsservercore-ltsc2022';

interface Created {
  readonly code: number;
  readonly stored?: V1Pod;
  readonly stderr: string;
  readonly warnings: string[];
}

/** `kubectl create -f -` of one pod, as a user applies a manifest; a refusal is returned, not thrown. */
async function kubectlCreate(namespace: string, pod: V1Pod): Promise<Created> {
  const result = await e2e().cluster.kubectl(
    ['create', '-n', namespace, '-o', 'json', '-f', '-'],
    JSON.stringify(pod),
  );
  return {
    code: result.code,
    ...(result.code === 0 ? { stored: JSON.parse(result.stdout) as V1Pod } : {}),
    stderr: result.stderr,
    warnings: warningsOf(result.stderr),
  };
}

async function admitted(namespace: string, pod: V1Pod): Promise<{ stored: V1Pod; warnings: string[] }> {
  const created = await kubectlCreate(namespace, pod);
  if (created.stored === undefined)
    throw new Error(`kubectl create exited ${created.code}: ${created.stderr}`);
  return { stored: created.stored, warnings: created.warnings };
}

/** One container from a servercore image, which runs as ContainerAdministrator unless told otherwise. */
function windowsPod(name: string, spec: Partial<NonNullable<V1Pod['spec']>>): V1Pod {
  return plainPod(name, { containers: [{ name: 'iis', image: SERVERCORE_IIS }], ...spec });
}

const LINUX_ONLY_POD_FIELDS = [
  'runAsUser',
  'runAsGroup',
  'fsGroup',
  'fsGroupChangePolicy',
  'supplementalGroups',
  'seccompProfile',
  'seLinuxOptions',
  'sysctls',
] as const;
const LINUX_ONLY_CONTAINER_FIELDS = [
  'capabilities',
  'privileged',
  'allowPrivilegeEscalation',
  'readOnlyRootFilesystem',
  'procMount',
  'seccompProfile',
  'seLinuxOptions',
  'appArmorProfile',
  'runAsUser',
  'runAsGroup',
] as const;

/** What a hardened Windows pod must carry, and must not, as the API server stored it. */
function expectHardenedWindows(stored: V1Pod): void {
  expect(stored.spec?.os?.name, 'spec.os.name').to.equal('windows');
  const podContext = (stored.spec?.securityContext ?? {}) as Record<string, unknown>;
  for (const field of LINUX_ONLY_POD_FIELDS) expect(podContext[field], `pod ${field}`).to.be.undefined;
  expect(stored.spec?.securityContext?.windowsOptions?.runAsUserName, 'pod runAsUserName').to.equal(
    'ContainerUser',
  );
  expect(stored.spec?.securityContext?.runAsNonRoot, 'pod-level runAsNonRoot').to.be.undefined;
  expect(
    (stored.spec?.volumes ?? []).filter((volume) => volume.name.startsWith('pod-hardener-')),
    'our emptyDirs',
  ).to.deep.equal([]);
  for (const container of allContainers(stored)) {
    const where = `container ${container.name}`;
    const context = (container.securityContext ?? {}) as Record<string, unknown>;
    for (const field of LINUX_ONLY_CONTAINER_FIELDS)
      expect(context[field], `${where} ${field}`).to.be.undefined;
    expect(container.securityContext?.runAsNonRoot, `${where} runAsNonRoot`).to.equal(true);
    // The ServiceAccount admission plugin adds the token mount after us; nothing of ours is there.
    expect(
      (container.volumeMounts ?? []).filter(
        (m) => m.name.startsWith('pod-hardener-') || m.mountPath === '/tmp',
      ),
      `${where} our mounts`,
    ).to.deep.equal([]);
    expect(container.resources?.requests, `${where} requests`).to.deep.equal({
      cpu: '100m',
      memory: '128Mi',
    });
    expect(container.resources?.limits, `${where} limits`).to.deep.equal({ cpu: '500m', memory: '512Mi' });
  }
  expectChangesStored(stored);
}

/** Whether the record says we set spec.os.name (false when the user's manifest already had it). */
function recordedOsName(stored: V1Pod): boolean {
  return changesOf(stored).some(
    (change) =>
      change.control === 'run-as-non-root' && change.path === '/spec/os/name' && change.value === 'windows',
  );
}

describe('e2e: Windows pods by every signal, in an opted-in namespace enforcing restricted', () => {
  let namespace: string;
  let lenient: string;
  const runtimeClass = `windows-2022-${Date.now().toString(36).slice(-4)}`;

  before(async () => {
    const { cluster } = e2e();
    namespace = await createNamespace(cluster, 'windows', { labels: { ...OPTED_IN, ...RESTRICTED } });
    lenient = await createNamespace(cluster, 'windows-lenient', { labels: { ...OPTED_IN } });
    await cluster.kubectlOk(
      ['create', '-f', '-'],
      JSON.stringify({
        apiVersion: 'node.k8s.io/v1',
        kind: 'RuntimeClass',
        metadata: { name: runtimeClass },
        handler: 'runhcs-wcow-process',
        scheduling: {
          nodeSelector: { 'kubernetes.io/os': 'windows', 'node.kubernetes.io/windows-build': '10.0.20348' },
          tolerations: [{ key: 'os', operator: 'Equal', value: 'windows', effect: 'NoSchedule' }],
        },
      }),
    );
  });

  after(async () => {
    await e2e().cluster.kubectl(['delete', 'runtimeclass', runtimeClass, '--ignore-not-found']);
  });

  it('spec.os.name windows: admitted with ContainerUser, runAsNonRoot and resources, nothing Linux-only', async () => {
    const { stored } = await admitted(namespace, windowsPod('win-os', { os: { name: 'windows' } }));
    expectHardenedWindows(stored);
    expect(recordedOsName(stored), 'spec.os.name was in the manifest').to.equal(false);
  });

  it('nodeSelector kubernetes.io/os: windows: admitted, spec.os.name filled and recorded', async () => {
    const { stored } = await admitted(
      namespace,
      windowsPod('win-selector', { nodeSelector: { 'kubernetes.io/os': 'windows' } }),
    );
    expectHardenedWindows(stored);
    expect(recordedOsName(stored)).to.equal(true);
  });

  it('the legacy nodeSelector beta.kubernetes.io/os: windows: admitted the same way', async () => {
    const { stored } = await admitted(
      namespace,
      windowsPod('win-beta', { nodeSelector: { 'beta.kubernetes.io/os': 'windows' } }),
    );
    expectHardenedWindows(stored);
    expect(recordedOsName(stored)).to.equal(true);
  });

  it('a required node affinity on kubernetes.io/os In [windows]: admitted the same way', async () => {
    const { stored } = await admitted(
      namespace,
      windowsPod('win-affinity', {
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                { matchExpressions: [{ key: 'kubernetes.io/os', operator: 'In', values: ['windows'] }] },
              ],
            },
          },
        },
      }),
    );
    expectHardenedWindows(stored);
    expect(recordedOsName(stored)).to.equal(true);
  });

  it('a Windows RuntimeClass: the merged nodeSelector marks the pod, which is admitted the same way', async () => {
    const { stored } = await admitted(
      namespace,
      windowsPod('win-runtime-class', { runtimeClassName: runtimeClass }),
    );
    // The RuntimeClass admission plugin merged the class's scheduling into the pod before our webhook.
    expect(stored.spec?.nodeSelector).to.include({ 'kubernetes.io/os': 'windows' });
    expectHardenedWindows(stored);
    expect(recordedOsName(stored)).to.equal(true);
  });

  it('a Windows nodeSelector next to a Linux-only field: no spec.os.name, a warning, and Pod Security judges it as Linux', async () => {
    const conflicting = (name: string): V1Pod =>
      windowsPod(name, {
        nodeSelector: { 'kubernetes.io/os': 'windows' },
        securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
      });
    // Where restricted is not enforced the API server accepts it as we emit it: valid without spec.os.
    const { stored, warnings } = await admitted(lenient, conflicting('win-conflict'));
    expect(stored.spec?.os, 'spec.os').to.be.undefined;
    expect(stored.spec?.securityContext?.seccompProfile).to.deep.equal({ type: 'RuntimeDefault' });
    expect(stored.spec?.securityContext?.windowsOptions?.runAsUserName).to.equal('ContainerUser');
    for (const container of allContainers(stored)) {
      expect(container.securityContext?.capabilities, container.name).to.be.undefined;
      expect(container.securityContext?.allowPrivilegeEscalation, container.name).to.be.undefined;
    }
    expect(warnings.join('\n')).to.contain('Pod Security judges it as Linux');
    expect(warnings.join('\n')).to.contain('/spec/securityContext/seccompProfile');
    expectChangesStored(stored);

    // Where restricted is enforced, Pod Security does just that: the Linux-only checks refuse it.
    const refused = await kubectlCreate(namespace, conflicting('win-conflict'));
    expect(refused.code, 'kubectl create').to.not.equal(0);
    expect(refused.stderr).to.contain('violates PodSecurity "restricted');
    expect(refused.stderr).to.contain('allowPrivilegeEscalation');
  });
});
