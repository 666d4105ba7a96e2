/**
 * Real workloads nobody here wrote, from Debian's packages with their default configuration
 * (test/e2e/node/workloads.sh), hardened in a namespace enforcing "restricted" with no annotations:
 * the webhook runs with examples/image-profiles.yaml (test/e2e/node/overlay), whose profiles for
 * these images give each its user and writable paths. Each answers a request from this host over the
 * pod network, as its profile's user. The same images under a tag no profile names (`:unprofiled`,
 * tagged by the node setup) get only the defaults, and nginx and PostgreSQL then do not start, for
 * the reason the README gives. A run-as-user annotation still wins over a profile.
 */
import net from 'node:net';
import { expect } from 'chai';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { createNamespace, OPTED_IN, RESTRICTED } from '../support/cluster.js';
import { onNode } from '../support/node-context.js';
import { containerStatus, execOk, runPod, waitForPod } from '../support/on-node.js';

/** Sends `request` to ip:port and resolves with what the server answered within 5 s. */
function ask(ip: string, port: number, request: Buffer | string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect({ host: ip, port }, () => socket.write(request));
    const done = () => {
      socket.destroy();
      resolve(Buffer.concat(chunks));
    };
    socket.setTimeout(5000, done);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (Buffer.concat(chunks).length >= 1) setTimeout(done, 200);
    });
    socket.once('end', done);
    socket.once('error', reject);
  });
}

function workload(
  name: string,
  container: Partial<V1Container> = {},
  { tag = 'latest', annotations }: { tag?: string; annotations?: Record<string, string> } = {},
): V1Pod {
  return {
    metadata: { name, ...(annotations === undefined ? {} : { annotations }) },
    spec: {
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: 'server',
          image: `localhost/e2e/${name.split('-')[0]}:${tag}`,
          imagePullPolicy: 'IfNotPresent',
          ...container,
        },
      ],
    },
  };
}

/** The pod runs as `uid`, and its changes record names `profile` (on the values it decided). */
async function expectProfile(namespace: string, pod: V1Pod, profile: string, uid: string): Promise<void> {
  const { cluster } = onNode();
  const name = pod.metadata?.name ?? '';
  expect((await execOk(cluster, namespace, name, 'server', ['id', '-u'])).trim()).to.equal(uid);
  const record = JSON.parse(pod.metadata?.annotations?.['pod-hardener.io/changes'] ?? '[]') as {
    profile?: string;
  }[];
  expect(record.map((entry) => entry.profile)).to.include(profile);
  expect(pod.metadata?.annotations ?? {}).not.to.have.property('pod-hardener.io/writable-paths');
}

async function crashes(namespace: string, pod: V1Pod, log: RegExp): Promise<void> {
  const { cluster } = onNode();
  const name = pod.metadata?.name ?? '';
  await cluster.core.createNamespacedPod({ namespace, body: pod });
  await waitForPod(cluster, namespace, name, 'failing', (candidate) => {
    const status = containerStatus(candidate, 'server');
    return status?.lastState?.terminated !== undefined || status?.state?.terminated !== undefined;
  });
  const logs = await cluster.kubectl(['logs', '-n', namespace, name, '-c', 'server']);
  const previous = await cluster.kubectl(['logs', '-n', namespace, name, '-c', 'server', '--previous']);
  expect(logs.stdout + previous.stdout).to.match(log);
  await cluster.core.deleteNamespacedPod({ namespace, name, gracePeriodSeconds: 0 });
}

describe('e2e node: real workloads from Debian packages, hardened', () => {
  let namespace: string;

  before(async () => {
    namespace = await createNamespace(onNode().cluster, 'workloads', {
      labels: { ...OPTED_IN, ...RESTRICTED },
    });
  });

  it('nginx (nginx-light, Debian default site) serves its welcome page with its image profile and no annotations', async () => {
    const { cluster } = onNode();
    const pod = await runPod(cluster, namespace, workload('nginx'));
    const answer = (
      await waitForAnswer(() => ask(pod.status?.podIP ?? '', 80, 'GET / HTTP/1.0\r\nHost: e2e\r\n\r\n'))
    ).toString();
    expect(answer).to.match(/^HTTP\/1\.1 200 OK/);
    expect(answer).to.include('Welcome to nginx');
    await expectProfile(namespace, pod, 'e2e-nginx', '33');
  });

  it('the same nginx under a tag no profile names does not start: its temp directories are on the read-only root', async () => {
    await crashes(namespace, workload('nginx-bare', {}, { tag: 'unprofiled' }), /Read-only file system/);
  });

  it('redis (Debian redis.conf, in the foreground) answers PING with its image profile and no annotations', async () => {
    const { cluster } = onNode();
    const pod = await runPod(
      cluster,
      namespace,
      workload(
        'redis',
        // Debian's redis.conf binds 127.0.0.1 only; the host asks over the pod network.
        {
          command: ['redis-server', '/etc/redis/redis.conf', '--daemonize', 'no'],
          args: ['--bind', '0.0.0.0', '--protected-mode', 'no'],
        },
      ),
    );
    expect((await waitForAnswer(() => ask(pod.status?.podIP ?? '', 6379, 'PING\r\n'))).toString()).to.equal(
      '+PONG\r\n',
    );
    expect((await execOk(cluster, namespace, 'redis', 'server', ['redis-cli', 'ping'])).trim()).to.equal(
      'PONG',
    );
    await expectProfile(namespace, pod, 'e2e-redis', '100');
  });

  it('postgresql 15 (initdb defaults) answers a query as the postgres user of its image profile, with no annotations', async () => {
    const { cluster } = onNode();
    const pod = await runPod(cluster, namespace, workload('postgresql'));
    expect(await postgresAnswers(namespace, pod)).to.equal('postgres|42');
    await expectProfile(namespace, pod, 'e2e-postgresql', '101');
  });

  it('postgresql with a run-as-user annotation runs as that user: the annotation wins over the profile', async () => {
    const { cluster } = onNode();
    const pod = await runPod(
      cluster,
      namespace,
      workload('postgresql-annotated', {}, { annotations: { 'pod-hardener.io/run-as-user': '65532' } }),
    );
    // initdb names the superuser after the running user: nonroot (65532) in the image's /etc/passwd.
    expect(await postgresAnswers(namespace, pod, 'nonroot')).to.equal('nonroot|42');
  });

  it('the same postgresql under a tag no profile names does not start: initdb cannot create its data directory', async () => {
    await crashes(
      namespace,
      workload('postgresql-bare', {}, { tag: 'unprofiled' }),
      /Read-only file system|Permission denied/,
    );
  });
});

/** Waits for the server on the pod IP, then asks it a query through psql in the pod as `user`. */
async function postgresAnswers(namespace: string, pod: V1Pod, user = 'postgres'): Promise<string> {
  const { cluster } = onNode();
  // The server accepts TCP on the pod IP: an SSLRequest is answered with 'N' (no SSL configured).
  const sslRequest = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
  const answer = await waitForAnswer(() => ask(pod.status?.podIP ?? '', 5432, sslRequest));
  expect(answer.toString()).to.equal('N');
  const query = await execOk(cluster, namespace, pod.metadata?.name ?? '', 'server', [
    'psql',
    '-h',
    '127.0.0.1',
    '-U',
    user,
    '-d',
    'postgres',
    '-tAc',
    'select current_user, 40 + 2',
  ]);
  return query.trim();
}

async function waitForAnswer(askOnce: () => Promise<Buffer>): Promise<Buffer> {
  // initdb runs first; the server listens a few seconds after the container starts.
  for (let attempt = 0; attempt < 60; attempt += 1) {
    try {
      const answer = await askOnce();
      if (answer.length > 0) return answer;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return askOnce();
}
