/**
 * Scenarios 4, 5 and 6, through kubectl as a user runs it: opt-outs and the namespace that forbids
 * them, the warn and audit modes, and pods the engine must leave valid and startable even though it
 * cannot make them compliant.
 */
import { expect } from 'chai';
import type { V1Pod } from '@kubernetes/client-node';
import { createNamespace, OPTED_IN, warningsOf } from './support/cluster.js';
import { e2e } from './support/context.js';
import {
  allContainers,
  changesOf,
  expectChangesStored,
  expectFullyHardened,
  expectUntouched,
  plainPod,
} from './support/expect-pod.js';

/** `kubectl create -f -` of one pod: what the API server stored, and the warnings kubectl printed. */
export async function kubectlCreate(
  namespace: string,
  pod: V1Pod,
): Promise<{ stored: V1Pod; warnings: string[] }> {
  const result = await e2e().cluster.kubectl(
    ['create', '-n', namespace, '-o', 'json', '-f', '-'],
    JSON.stringify(pod),
  );
  if (result.code !== 0) throw new Error(`kubectl create exited ${result.code}: ${result.stderr}`);
  return { stored: JSON.parse(result.stdout) as V1Pod, warnings: warningsOf(result.stderr) };
}

function annotated(pod: V1Pod, annotations: Record<string, string>): V1Pod {
  const copy = structuredClone(pod);
  copy.metadata!.annotations = annotations;
  return copy;
}

describe('e2e: opt-outs', () => {
  let namespace: string;
  let strictNamespace: string;

  before(async () => {
    const { cluster } = e2e();
    namespace = await createNamespace(cluster, 'optout', { labels: { ...OPTED_IN } });
    strictNamespace = await createNamespace(cluster, 'no-optout', {
      labels: { ...OPTED_IN },
      annotations: { 'pod-hardener.io/allow-opt-out': 'false' },
    });
  });

  it('stores a pod annotated skip unchanged', async () => {
    const { stored } = await kubectlCreate(
      namespace,
      annotated(plainPod('skip'), { 'pod-hardener.io/skip': 'true' }),
    );
    expectUntouched(stored);
  });

  it('leaves out only the controls named in skip-controls, and records the opt-out', async () => {
    const { stored } = await kubectlCreate(
      namespace,
      annotated(plainPod('partial'), { 'pod-hardener.io/skip-controls': 'default-resources' }),
    );
    expect(stored.spec?.containers[0]?.resources ?? {}).to.deep.equal({});
    expect(stored.spec?.containers[0]?.securityContext?.runAsNonRoot).to.equal(true);
    expect(stored.metadata?.annotations?.['pod-hardener.io/opt-outs']).to.contain('default-resources');
    expect(changesOf(stored).map((change) => change.control)).to.not.include('default-resources');
    expectChangesStored(stored);
  });

  it('ignores opt-outs where the namespace says allow-opt-out "false", and says so', async () => {
    const { stored, warnings } = await kubectlCreate(
      strictNamespace,
      annotated(plainPod('ignored'), { 'pod-hardener.io/skip': 'true' }),
    );
    expectFullyHardened(stored);
    expect(warnings.join('\n')).to.match(/opt-out/i);
  });
});

describe('e2e: warn and audit modes', () => {
  it('warn: stores the pod unchanged and kubectl prints what would change', async () => {
    const { cluster } = e2e();
    const namespace = await createNamespace(cluster, 'warn', {
      labels: { ...OPTED_IN },
      annotations: { 'pod-hardener.io/mode': 'warn' },
    });
    const { stored, warnings } = await kubectlCreate(namespace, plainPod('warned'));
    expectUntouched(stored);
    expect(warnings.length).to.be.greaterThan(0);
    const text = warnings.join('\n');
    for (const field of [
      'runAsNonRoot',
      'allowPrivilegeEscalation',
      'readOnlyRootFilesystem',
      'seccompProfile',
    ]) {
      expect(text, `a warning about ${field}`).to.contain(field);
    }
  });

  it('audit: stores the pod unchanged and prints nothing', async () => {
    const { cluster } = e2e();
    const namespace = await createNamespace(cluster, 'audit-mode', {
      labels: { ...OPTED_IN },
      annotations: { 'pod-hardener.io/mode': 'audit' },
    });
    const { stored, warnings } = await kubectlCreate(namespace, plainPod('audited'));
    expectUntouched(stored);
    expect(warnings).to.deep.equal([]);
  });
});

describe('e2e: pods the engine must not break (no Pod Security enforcement in the namespace)', () => {
  let namespace: string;

  before(async () => {
    namespace = await createNamespace(e2e().cluster, 'unusual', { labels: { ...OPTED_IN } });
  });

  it('a privileged container: admitted, no allowPrivilegeEscalation, warned', async () => {
    const { stored, warnings } = await kubectlCreate(
      namespace,
      plainPod('privileged', {
        containers: [{ name: 'agent', image: 'example/agent:1', securityContext: { privileged: true } }],
      }),
    );
    const context = stored.spec?.containers[0]?.securityContext;
    expect(context?.privileged).to.equal(true);
    expect(context?.allowPrivilegeEscalation).to.be.undefined;
    expect(warnings.join('\n')).to.contain('privileged');
    expectChangesStored(stored);
  });

  it('an added SYS_ADMIN: admitted with the capability kept and ALL dropped, warned', async () => {
    const { stored, warnings } = await kubectlCreate(
      namespace,
      plainPod('sysadmin', {
        containers: [
          {
            name: 'fuse',
            image: 'example/fuse:1',
            securityContext: { capabilities: { add: ['SYS_ADMIN'] } },
          },
        ],
      }),
    );
    const context = stored.spec?.containers[0]?.securityContext;
    expect(context?.capabilities?.add).to.deep.equal(['SYS_ADMIN']);
    expect(context?.capabilities?.drop).to.deep.equal(['ALL']);
    expect(context?.allowPrivilegeEscalation).to.be.undefined;
    expect(warnings.join('\n')).to.contain('SYS_ADMIN');
  });

  it('an explicit root container: admitted, still root, the other container non-root', async () => {
    const { stored, warnings } = await kubectlCreate(
      namespace,
      plainPod('root', {
        containers: [
          { name: 'legacy', image: 'example/legacy:1', securityContext: { runAsUser: 0 } },
          { name: 'app', image: 'example/app:1' },
        ],
      }),
    );
    const [legacy, app] = stored.spec?.containers ?? [];
    expect(legacy?.securityContext?.runAsUser).to.equal(0);
    expect(legacy?.securityContext?.runAsNonRoot).to.not.equal(true);
    expect(
      stored.spec?.securityContext?.runAsNonRoot,
      'no pod-level runAsNonRoot over a root container',
    ).to.not.equal(true);
    expect(app?.securityContext?.runAsNonRoot).to.equal(true);
    expect(warnings.join('\n')).to.contain('legacy');
  });

  it('a Windows pod: admitted with only the fields the API allows on Windows', async () => {
    const { stored } = await kubectlCreate(
      namespace,
      plainPod('windows', {
        os: { name: 'windows' },
        containers: [{ name: 'iis', image: 'mcr.microsoft.com/windows/servercore/iis:ltsc2022' }],
      }),
    );
    expect(stored.spec?.securityContext?.seccompProfile).to.be.undefined;
    for (const container of allContainers(stored)) {
      expect(container.securityContext?.readOnlyRootFilesystem).to.be.undefined;
      expect(container.securityContext?.capabilities).to.be.undefined;
    }
    expectChangesStored(stored);
  });

  it('a pod that already mounts /tmp: admitted with no second /tmp mount', async () => {
    const { stored } = await kubectlCreate(
      namespace,
      plainPod('own-tmp', {
        volumes: [{ name: 'scratch', emptyDir: {} }],
        containers: [
          { name: 'app', image: 'example/app:1', volumeMounts: [{ name: 'scratch', mountPath: '/tmp' }] },
        ],
      }),
    );
    const mounts =
      stored.spec?.containers[0]?.volumeMounts?.filter((mount) => mount.mountPath === '/tmp') ?? [];
    expect(mounts.map((mount) => mount.name)).to.deep.equal(['scratch']);
    expect(stored.spec?.containers[0]?.securityContext?.readOnlyRootFilesystem).to.equal(true);
    expectChangesStored(stored);
  });
});
