import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { expect } from 'chai';
import express from 'express';
import { createMetrics, type Metrics } from '../../src/metrics/index.js';
import { startServer, type RunningServer, type StartServerOptions } from '../../src/http/server.js';
import { createSilentLogger } from '../../src/logger.js';
import {
  createSelfSignedCertificate,
  writeCertificateFiles,
  type CertificateFiles,
  type PemKeyPair,
} from '../../src/tls/self-signed.js';
import { testApp } from '../support/app.js';

const HOST = '127.0.0.1';
const WAIT_LIMIT_MS = 15_000;

interface Fetched {
  readonly status: number;
  readonly body: string;
  readonly fingerprint: string;
  readonly localPort: number | undefined;
  readonly connection: string | undefined;
}

function fetch(
  port: number,
  urlPath: string,
  ca: string,
  agent: https.Agent | false = false,
): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: HOST, port, path: urlPath, ca, agent }, (res) => {
      const socket = res.socket as tls.TLSSocket;
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      const localPort = socket.localPort;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        resolve({
          status: res.statusCode ?? 0,
          body,
          fingerprint,
          localPort,
          connection: res.headers.connection,
        });
      });
    });
    req.on('error', reject);
  });
}

function fingerprintOf(pair: PemKeyPair): string {
  return new X509Certificate(pair.certPem).fingerprint256;
}

async function waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + WAIT_LIMIT_MS;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect.fail(`timed out waiting for ${what}`);
}

function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: HOST, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => {
      resolve(true);
    });
  });
}

/**
 * Lays a pair out as the kubelet does for a Secret volume: the visible files are symlinks through
 * `..data`, and an update swaps `..data` to a new timestamped directory in one rename.
 */
async function kubeletSecretDir(
  root: string,
  pair: PemKeyPair,
): Promise<{ files: CertificateFiles; swap(next: PemKeyPair): Promise<void> }> {
  let generation = 0;
  const publish = async (p: PemKeyPair): Promise<void> => {
    generation += 1;
    const versioned = `..v${generation}`;
    await mkdir(path.join(root, versioned));
    await writeFile(path.join(root, versioned, 'tls.crt'), p.certPem);
    await writeFile(path.join(root, versioned, 'tls.key'), p.keyPem, { mode: 0o600 });
    await symlink(versioned, path.join(root, '..data_tmp'));
    await rename(path.join(root, '..data_tmp'), path.join(root, '..data'));
  };
  await mkdir(root, { recursive: true });
  await publish(pair);
  await symlink('..data/tls.crt', path.join(root, 'tls.crt'));
  await symlink('..data/tls.key', path.join(root, 'tls.key'));
  return {
    files: { certFile: path.join(root, 'tls.crt'), keyFile: path.join(root, 'tls.key') },
    swap: publish,
  };
}

describe('http/server', () => {
  let tmp: string;
  let pairA: PemKeyPair;
  let pairB: PemKeyPair;
  const servers: RunningServer[] = [];
  const agents: https.Agent[] = [];

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'pod-hardener-server-test-'));
    [pairA, pairB] = await Promise.all([createSelfSignedCertificate(), createSelfSignedCertificate()]);
  });

  afterEach(async () => {
    for (const agent of agents.splice(0)) agent.destroy();
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  let dirCount = 0;
  async function certDir(pair: PemKeyPair): Promise<CertificateFiles> {
    dirCount += 1;
    return writeCertificateFiles(path.join(tmp, `certs-${dirCount}`), pair);
  }

  async function start(
    files: CertificateFiles,
    overrides: Partial<StartServerOptions> = {},
  ): Promise<{ server: RunningServer; metrics: Metrics }> {
    const metrics = createMetrics({ defaultMetrics: false });
    const logger = createSilentLogger();
    const server = await startServer({
      app: testApp({
        metrics,
        logger,
        maxBodyBytes: 1024 * 1024,
        isShuttingDown: () => servers.find((s) => s.port === server.port)?.isShuttingDown() ?? false,
      }),
      port: 0,
      host: HOST,
      ...files,
      reloadIntervalSeconds: 3600,
      logger,
      metrics,
      ...overrides,
    });
    servers.push(server);
    return { server, metrics };
  }

  function keepAliveAgent(ca: string): https.Agent {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca });
    agents.push(agent);
    return agent;
  }

  it('serves HTTPS on the port it was given (0 means any free port)', async () => {
    const { server } = await start(await certDir(pairA));
    expect(server.port).to.be.above(0);
    const res = await fetch(server.port, '/healthz', pairA.certPem);
    expect(res.status).to.equal(200);
    expect(res.fingerprint).to.equal(fingerprintOf(pairA));
  });

  it('refuses TLS 1.1 and accepts TLS 1.2', async () => {
    const { server } = await start(await certDir(pairA));
    const handshake = (version: tls.SecureVersion): Promise<string> =>
      new Promise((resolve) => {
        const socket = tls.connect({
          host: HOST,
          port: server.port,
          ca: pairA.certPem,
          minVersion: version,
          maxVersion: version,
          // Lets this client offer TLS 1.1 at all, so the refusal observed is the server's.
          ciphers: 'DEFAULT:@SECLEVEL=0',
        });
        socket.once('secureConnect', () => {
          const protocol = socket.getProtocol() ?? 'unknown';
          socket.destroy();
          resolve(protocol);
        });
        socket.once('error', (err: NodeJS.ErrnoException) => {
          resolve(`error:${err.code ?? err.message}`);
        });
      });
    expect(await handshake('TLSv1.1')).to.match(/^error:.*(PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL)/);
    expect(await handshake('TLSv1.2')).to.equal('TLSv1.2');
  });

  it('reloads a new pair on reloadNow() while an existing keep-alive connection keeps working', async () => {
    const files = await certDir(pairA);
    const { server, metrics } = await start(files);
    const oldClient = keepAliveAgent(pairA.certPem);
    const first = await fetch(server.port, '/healthz', pairA.certPem, oldClient);
    expect(first.fingerprint).to.equal(fingerprintOf(pairA));

    await writeCertificateFiles(path.dirname(files.certFile), pairB);
    // The directory watcher may already have picked the change up; either way B is served afterwards.
    expect(await server.reloadNow()).to.be.oneOf(['reloaded', 'unchanged']);
    expect(await server.reloadNow()).to.equal('unchanged');

    const fresh = await fetch(server.port, '/healthz', pairB.certPem);
    expect(fresh.status).to.equal(200);
    expect(fresh.fingerprint).to.equal(fingerprintOf(pairB));

    const again = await fetch(server.port, '/healthz', pairA.certPem, oldClient);
    expect(again.status).to.equal(200);
    expect(again.localPort).to.equal(first.localPort);
    expect(again.fingerprint).to.equal(fingerprintOf(pairA));

    expect(await metrics.registry.metrics()).to.include('pod_hardener_tls_reloads_total{result="success"} 1');
  });

  it('picks up a kubelet-style ..data swap by polling alone', async () => {
    const secret = await kubeletSecretDir(path.join(tmp, 'kubelet-poll'), pairA);
    const { server } = await start(secret.files, { reloadIntervalSeconds: 0.1, watchDirectories: false });
    expect((await fetch(server.port, '/healthz', pairA.certPem)).fingerprint).to.equal(fingerprintOf(pairA));

    await secret.swap(pairB);
    await waitFor('the polled reload', async () => {
      const res = await fetch(server.port, '/healthz', pairB.certPem).catch(() => undefined);
      return res?.fingerprint === fingerprintOf(pairB);
    });
  });

  it('picks up a kubelet-style ..data swap through the directory watch alone', async () => {
    const secret = await kubeletSecretDir(path.join(tmp, 'kubelet-watch'), pairA);
    const { server } = await start(secret.files, { reloadIntervalSeconds: 3600 });
    await secret.swap(pairB);
    await waitFor('the watched reload', async () => {
      const res = await fetch(server.port, '/healthz', pairB.certPem).catch(() => undefined);
      return res?.fingerprint === fingerprintOf(pairB);
    });
  });

  it('keeps serving the old pair when the new files do not form a pair, and counts the failure', async () => {
    const files = await certDir(pairA);
    // Only explicit reloads here, so the failure count cannot depend on when watch events arrive.
    const { server, metrics } = await start(files, { watchDirectories: false });
    await writeFile(files.certFile, pairB.certPem);
    expect(await server.reloadNow()).to.equal('failed');
    expect((await fetch(server.port, '/healthz', pairA.certPem)).fingerprint).to.equal(fingerprintOf(pairA));

    await writeFile(files.keyFile, 'not a key');
    expect(await server.reloadNow()).to.equal('failed');
    await rm(files.keyFile);
    expect(await server.reloadNow()).to.equal('failed');
    expect((await fetch(server.port, '/healthz', pairA.certPem)).status).to.equal(200);
    expect(await metrics.registry.metrics()).to.include('pod_hardener_tls_reloads_total{result="failure"} 3');

    // Once the files are consistent again, the new pair is served.
    await writeFile(files.keyFile, pairB.keyPem);
    expect(await server.reloadNow()).to.equal('reloaded');
    expect((await fetch(server.port, '/healthz', pairB.certPem)).fingerprint).to.equal(fingerprintOf(pairB));
  });

  it('refuses to start without a valid pair', async () => {
    const mismatched = await certDir(pairA);
    await writeFile(mismatched.keyFile, pairB.keyPem);
    let error: unknown;
    try {
      await start(mismatched);
    } catch (err) {
      error = err;
    }
    expect(String(error)).to.match(/key values mismatch|KEY_VALUES_MISMATCH/i);

    error = undefined;
    try {
      await start({ certFile: path.join(tmp, 'missing.crt'), keyFile: path.join(tmp, 'missing.key') });
    } catch (err) {
      error = err;
    }
    expect(String(error)).to.include('ENOENT');
  });

  it('rejects when the port is taken', async () => {
    const files = await certDir(pairA);
    const { server } = await start(files);
    let error: unknown;
    try {
      await start(files, { port: server.port });
    } catch (err) {
      error = err;
    }
    expect((error as NodeJS.ErrnoException | undefined)?.code).to.equal('EADDRINUSE');
  });

  it('shuts down gracefully: not ready, in-flight requests finish, then the port closes', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let arrived!: () => void;
    const slowArrived = new Promise<void>((resolve) => (arrived = resolve));

    const metrics = createMetrics({ defaultMetrics: false });
    const logger = createSilentLogger();
    const holder: { server?: RunningServer } = {};
    const outer = express();
    outer.get('/slow', (_req, res) => {
      arrived();
      void released.then(() => res.status(200).send('done'));
    });
    outer.use(
      testApp({
        metrics,
        logger,
        maxBodyBytes: 1024,
        isShuttingDown: () => holder.server?.isShuttingDown() ?? false,
      }),
    );
    const files = await certDir(pairA);
    const server = await startServer({
      app: outer,
      port: 0,
      host: HOST,
      ...files,
      reloadIntervalSeconds: 3600,
      // Long enough for a local request over an open connection; the test does not wait it out idly.
      shutdownDelaySeconds: 2,
      logger,
      metrics,
    });
    holder.server = server;
    servers.push(server);
    const port = server.port;

    const client = keepAliveAgent(pairA.certPem);
    expect((await fetch(port, '/readyz', pairA.certPem, client)).status).to.equal(200);

    const slow = fetch(port, '/slow', pairA.certPem);
    await slowArrived;

    let shutdownDone = false;
    const shutdown = server.shutdown().then(() => {
      shutdownDone = true;
    });
    expect(server.shutdown()).to.be.a('promise');

    const notReady = await fetch(port, '/readyz', pairA.certPem, client);
    expect(notReady.status).to.equal(503);
    expect(JSON.parse(notReady.body)).to.deep.equal({ status: 'shutting down' });
    expect(notReady.connection).to.equal('close');

    await waitFor('the listener to close', () => refusesConnections(port));
    expect(shutdownDone, 'shutdown must wait for the in-flight request').to.equal(false);

    release();
    const done = await slow;
    expect(done.status).to.equal(200);
    expect(done.body).to.equal('done');
    await shutdown;
    expect(await refusesConnections(port)).to.equal(true);
  });

  it('close() drops everything at once', async () => {
    const { server } = await start(await certDir(pairA));
    const client = keepAliveAgent(pairA.certPem);
    await fetch(server.port, '/healthz', pairA.certPem, client);
    await server.close();
    expect(await refusesConnections(server.port)).to.equal(true);
    expect(server.isShuttingDown()).to.equal(true);
  });
});
