/**
 * Real workloads nobody here wrote, from Debian's packages with their default configuration
 * (test/e2e/node/workloads.sh), hardened in a namespace enforcing "restricted" with only the documented
 * annotations: each answers a request from this host over the pod network. Without the annotations,
 * nginx and PostgreSQL do not start, for the reason the README gives.
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

function workload(name: string, container: Partial<V1Container>, writablePaths?: string): V1Pod {
  return {
    metadata: {
      name,
      ...(writablePaths === undefined
        ? {}
        : { annotations: { 'pod-hardener.io/writable-paths': writablePaths } }),
    },
    spec: {
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: 'server',
          image: `localhost/e2e/${name.split('-')[0]}:latest`,
          imagePullPolicy: 'IfNotPresent',
          ...container,
        },
      ],
    },
  };
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

  it('nginx (nginx-light, Debian default site) serves its welcome page with writable-paths /var/lib/nginx,/var/log/nginx,/run', async () => {
    const { cluster } = onNode();
    const pod = await runPod(cluster, namespace, workload('nginx', {}, '/var/lib/nginx,/var/log/nginx,/run'));
    const answer = (
      await waitForAnswer(() => ask(pod.status?.podIP ?? '', 80, 'GET / HTTP/1.0\r\nHost: e2e\r\n\r\n'))
    ).toString();
    expect(answer).to.match(/^HTTP\/1\.1 200 OK/);
    expect(answer).to.include('Welcome to nginx');
  });

  it('nginx without writable-paths does not start: its temp directories are on the read-only root', async () => {
    await crashes(namespace, workload('nginx-bare', {}), /Read-only file system/);
  });

  it('redis (Debian redis.conf, in the foreground) answers PING with writable-paths /var/lib/redis,/var/log/redis,/run/redis', async () => {
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
        '/var/lib/redis,/var/log/redis,/run/redis',
      ),
    );
    expect((await waitForAnswer(() => ask(pod.status?.podIP ?? '', 6379, 'PING\r\n'))).toString()).to.equal(
      '+PONG\r\n',
    );
    expect((await execOk(cluster, namespace, 'redis', 'server', ['redis-cli', 'ping'])).trim()).to.equal(
      'PONG',
    );
  });

  it('postgresql 15 (initdb defaults) answers a query with writable-paths /var/lib/postgresql,/run/postgresql', async () => {
    const { cluster } = onNode();
    const pod = await runPod(
      cluster,
      namespace,
      workload('postgresql', {}, '/var/lib/postgresql,/run/postgresql'),
    );
    // The server accepts TCP on the pod IP: an SSLRequest is answered with 'N' (no SSL configured).
    const sslRequest = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
    const answer = await waitForAnswer(() => ask(pod.status?.podIP ?? '', 5432, sslRequest));
    expect(answer.toString()).to.equal('N');
    const query = await execOk(cluster, namespace, 'postgresql', 'server', [
      'psql',
      '-h',
      '127.0.0.1',
      '-U',
      'nonroot',
      '-d',
      'postgres',
      '-tAc',
      'select current_user, 40 + 2',
    ]);
    expect(query.trim()).to.equal('nonroot|42');
  });

  it('postgresql without writable-paths does not start: initdb cannot create its data directory', async () => {
    await crashes(namespace, workload('postgresql-bare', {}), /Read-only file system|Permission denied/);
  });
});

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
