/**
 * Hardened pods really run on a kubelet, and really are hardened: read from inside the containers
 * (kubectl exec), from the kubelet's container statuses, and for the pod that opted out, the image's
 * own user.
 */
import { expect } from 'chai';
import { createNamespace, OPTED_IN, RESTRICTED } from '../support/cluster.js';
import { changesOf } from '../support/expect-pod.js';
import { onNode } from '../support/node-context.js';
import { BUSYBOX_IMAGE } from '../support/node.js';
import {
  busybox,
  containerStatus,
  exec,
  execOk,
  isRunningAndReady,
  nodePod,
  procStatus,
  runPod,
  waitForPod,
} from '../support/on-node.js';

const SLEEP = ['sleep', '3600'];

/** What every hardened container shows from inside. */
async function expectHardenedInside(namespace: string, pod: string, container: string, uid = '65532') {
  const { cluster } = onNode();
  expect((await execOk(cluster, namespace, pod, container, ['id', '-u'])).trim(), 'id -u').to.equal(uid);
  const status = await procStatus(cluster, namespace, pod, container);
  expect(status.CapEff, 'CapEff').to.equal('0000000000000000');
  expect(status.NoNewPrivs, 'NoNewPrivs').to.equal('1');
  expect(status.Seccomp, 'Seccomp (2: filter)').to.equal('2');
  const write = await exec(cluster, namespace, pod, container, ['sh', '-c', 'echo x > /probe']);
  expect(write.code, 'writing to / fails').to.not.equal(0);
  expect(write.stderr).to.match(/Read-only file system/);
  expect(
    (
      await execOk(cluster, namespace, pod, container, ['sh', '-c', 'echo ok > /tmp/probe && cat /tmp/probe'])
    ).trim(),
    '/tmp is writable',
  ).to.equal('ok');
}

describe('e2e node: hardened pods run, and are hardened from inside', () => {
  let namespace: string;

  before(async () => {
    namespace = await createNamespace(onNode().cluster, 'node', { labels: { ...OPTED_IN, ...RESTRICTED } });
  });

  it('a bare busybox pod (no securityContext) reaches Running in a restricted namespace: UID 65532, / read-only, /tmp writable, CapEff 0, NoNewPrivs 1, Seccomp 2', async () => {
    const { cluster } = onNode();
    const pod = await runPod(cluster, namespace, nodePod('bare', { containers: [busybox('app', SLEEP)] }));
    await expectHardenedInside(namespace, 'bare', 'app');
    expect(changesOf(pod), 'the changes record').to.not.be.empty;
  });

  it('a process allocating past the injected memory limit is OOMKilled', async () => {
    const { cluster } = onNode();
    // dd's 600 MiB buffer is filled by the read from /dev/zero, so it is resident: past the 512Mi default.
    await cluster.core.createNamespacedPod({
      namespace,
      body: nodePod('hog', {
        restartPolicy: 'Never',
        containers: [busybox('hog', ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=600M', 'count=1'])],
      }),
    });
    const pod = await waitForPod(
      cluster,
      namespace,
      'hog',
      'terminated',
      (candidate) => containerStatus(candidate, 'hog')?.state?.terminated !== undefined,
    );
    expect(pod.spec?.containers[0]?.resources?.limits?.memory, 'the injected limit').to.equal('512Mi');
    const terminated = containerStatus(pod, 'hog')?.state?.terminated;
    expect(terminated?.reason).to.equal('OOMKilled');
    expect(terminated?.exitCode).to.equal(137);
  });

  it('init containers and a native sidecar run hardened', async () => {
    const { cluster } = onNode();
    const pod = await runPod(
      cluster,
      namespace,
      nodePod('with-sidecar', {
        initContainers: [
          // Fails the pod unless it runs as the injected UID.
          busybox('check-uid', ['sh', '-c', 'test "$(id -u)" = 65532']),
          { ...busybox('sidecar', SLEEP), restartPolicy: 'Always' },
        ],
        containers: [busybox('app', SLEEP)],
      }),
    );
    const init = containerStatus(pod, 'check-uid')?.state?.terminated;
    expect(init?.exitCode, 'the init container succeeded').to.equal(0);
    expect(containerStatus(pod, 'sidecar')?.state?.running, 'the sidecar is running').to.not.be.undefined;
    await expectHardenedInside(namespace, 'with-sidecar', 'sidecar');
    await expectHardenedInside(namespace, 'with-sidecar', 'app');
  });

  it('writable-paths: each listed path gets a writable emptyDir, the rest of / stays read-only', async () => {
    const { cluster } = onNode();
    await runPod(
      cluster,
      namespace,
      nodePod(
        'writable',
        { containers: [busybox('app', SLEEP)] },
        {
          'pod-hardener.io/writable-paths': '/var/cache/app,/var/run',
        },
      ),
    );
    for (const dir of ['/var/cache/app', '/var/run']) {
      await execOk(cluster, namespace, 'writable', 'app', ['touch', `${dir}/file`]);
    }
    const outside = await exec(cluster, namespace, 'writable', 'app', ['touch', '/var/file']);
    expect(outside.code, 'a path not listed stays read-only').to.not.equal(0);
  });

  it('run-as-user: the container runs as the UID the annotation asks for', async () => {
    const { cluster } = onNode();
    await runPod(
      cluster,
      namespace,
      nodePod('uid', { containers: [busybox('app', SLEEP)] }, { 'pod-hardener.io/run-as-user': '1000' }),
    );
    await expectHardenedInside(namespace, 'uid', 'app', '1000');
  });

  it('kubectl debug --profile=restricted adds an ephemeral container that runs hardened', async () => {
    const { cluster } = onNode();
    await runPod(cluster, namespace, nodePod('debugged', { containers: [busybox('app', SLEEP)] }));
    await cluster.kubectlOk([
      'debug',
      '-n',
      namespace,
      'debugged',
      `--image=${BUSYBOX_IMAGE}`,
      '--image-pull-policy=IfNotPresent',
      '--profile=restricted',
      '--container=debugger',
      '--',
      ...SLEEP,
    ]);
    await waitForPod(
      cluster,
      namespace,
      'debugged',
      'running its ephemeral container',
      (pod) => containerStatus(pod, 'debugger')?.state?.running !== undefined,
    );
    await expectHardenedInside(namespace, 'debugged', 'debugger');
  });

  it('a pod that opted out runs as the image says: root, writable /', async () => {
    const { cluster } = onNode();
    // Opted in, but not enforcing restricted: Pod Security would refuse the unhardened pod.
    const lenient = await createNamespace(cluster, 'node-optout', { labels: { ...OPTED_IN } });
    const pod = await runPod(
      cluster,
      lenient,
      nodePod('opted-out', { containers: [busybox('app', SLEEP)] }, { 'pod-hardener.io/skip': 'true' }),
    );
    expect(isRunningAndReady(pod)).to.be.true;
    expect(changesOf(pod)).to.be.empty;
    expect((await execOk(cluster, lenient, 'opted-out', 'app', ['id', '-u'])).trim()).to.equal('0');
    await execOk(cluster, lenient, 'opted-out', 'app', ['touch', '/probe']);
    const status = await procStatus(cluster, lenient, 'opted-out', 'app');
    expect(status.CapEff, 'the runtime default capabilities').to.not.equal('0000000000000000');
  });
});
