import { X509Certificate, createPrivateKey } from 'node:crypto';
import { lstat, mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { expect } from 'chai';
import { createMetrics } from '../../src/metrics/index.js';
import { startServer, type RunningServer } from '../../src/http/server.js';
import { createSilentLogger } from '../../src/logger.js';
import { certificateDirectory } from '../../src/tls/cert-dir.js';
import {
  createCertificateAuthority,
  issueServingCertificate,
  writeCertificateFiles,
  type PemKeyPair,
} from '../../src/tls/self-signed.js';
import { testApp } from '../support/app.js';

const HOST = '127.0.0.1';

function fingerprintOf(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

function servedFingerprint(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    https
      .get({ host: HOST, port, path: '/healthz', ca, agent: false }, (res) => {
        const fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
        res.resume();
        res.on('end', () => {
          resolve(fingerprint);
        });
      })
      .on('error', reject);
  });
}

async function waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect.fail(`timed out waiting for ${what}`);
}

describe('tls/cert-dir', () => {
  let tmp: string;
  let ca: PemKeyPair;
  let pairs: PemKeyPair[];
  let count = 0;
  const servers: RunningServer[] = [];

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'pod-hardener-cert-dir-test-'));
    ca = await createCertificateAuthority();
    pairs = await Promise.all(
      [1, 2, 3, 4].map(() => issueServingCertificate(ca, { dnsNames: ['localhost'], ipAddresses: [HOST] })),
    );
  });

  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  function newDir(): string {
    count += 1;
    return path.join(tmp, `dir-${count}`, 'nested');
  }

  it('writes tls.crt and tls.key as links through ..data, the key readable by its owner only', async () => {
    const dir = certificateDirectory(newDir());
    const [pair] = pairs;
    await dir.write(pair!);
    expect(dir.certFile).to.equal(path.join(dir.dir, 'tls.crt'));
    expect(dir.keyFile).to.equal(path.join(dir.dir, 'tls.key'));
    expect(await readFile(dir.certFile, 'utf8')).to.equal(pair!.certPem);
    expect(await readFile(dir.keyFile, 'utf8')).to.equal(pair!.keyPem);
    expect((await lstat(dir.certFile)).isSymbolicLink()).to.equal(true);
    expect((await lstat(path.join(dir.dir, '..data'))).isSymbolicLink()).to.equal(true);
    expect((await stat(dir.keyFile)).mode & 0o777).to.equal(0o600);
    expect((await stat(dir.dir)).mode & 0o777).to.equal(0o700);
  });

  it('replaces regular files of the plain layout, and keeps only the current and previous versions', async () => {
    const root = newDir();
    await writeCertificateFiles(root, pairs[0]!);
    const dir = certificateDirectory(root);
    for (const pair of pairs) await dir.write(pair);
    expect(await readFile(dir.certFile, 'utf8')).to.equal(pairs[3]!.certPem);
    expect(await readFile(dir.keyFile, 'utf8')).to.equal(pairs[3]!.keyPem);
    const entries = (await readdir(root)).sort();
    const versions = entries.filter((e) => e.startsWith('..') && e !== '..data');
    expect(versions, entries.join(' ')).to.have.length(2);
    expect(entries.filter((e) => !e.startsWith('..'))).to.deep.equal(['tls.crt', 'tls.key']);
    expect(
      entries.some((e) => e.endsWith('.tmp')),
      entries.join(' '),
    ).to.equal(false);
  });

  it('never shows a reader a partial file, and a pair read after a write is the new one', async () => {
    const dir = certificateDirectory(newDir());
    await dir.write(pairs[0]!);
    const certs = new Set(pairs.map((p) => p.certPem));
    const keys = new Set(pairs.map((p) => p.keyPem));
    let reads = 0;
    let stop = false;
    let tick: (() => void) | undefined;
    const reader = (async () => {
      while (!stop) {
        const [cert, key] = await Promise.all([
          readFile(dir.certFile, 'utf8'),
          readFile(dir.keyFile, 'utf8'),
        ]);
        expect(certs.has(cert), 'a complete certificate').to.equal(true);
        expect(keys.has(key), 'a complete key').to.equal(true);
        reads += 1;
        tick?.();
      }
    })();
    for (let round = 0; round < 40; round++) {
      const pair = pairs[round % pairs.length]!;
      await dir.write(pair);
      expect(await readFile(dir.certFile, 'utf8')).to.equal(pair.certPem);
      expect(await readFile(dir.keyFile, 'utf8')).to.equal(pair.keyPem);
      // Let a read that began before this write finish before the next write removes a version.
      await new Promise<void>((resolve) => (tick = resolve));
    }
    stop = true;
    await reader;
    expect(reads).to.be.above(40);
  });

  it('is served by the server after a write, through reloadNow and through its own poll', async () => {
    const dir = certificateDirectory(newDir());
    await dir.write(pairs[0]!);
    const metrics = createMetrics({ defaultMetrics: false });
    const logger = createSilentLogger();
    const server = await startServer({
      app: testApp({ metrics, logger, maxBodyBytes: 1024 }),
      port: 0,
      host: HOST,
      certFile: dir.certFile,
      keyFile: dir.keyFile,
      reloadIntervalSeconds: 0.2,
      logger,
      metrics,
    });
    servers.push(server);
    expect(await servedFingerprint(server.port, ca.certPem)).to.equal(fingerprintOf(pairs[0]!.certPem));

    await dir.write(pairs[1]!);
    expect(await server.reloadNow()).to.be.oneOf(['reloaded', 'unchanged']);
    expect(await servedFingerprint(server.port, ca.certPem)).to.equal(fingerprintOf(pairs[1]!.certPem));

    // No reloadNow: the poll or the directory watch picks the swap up.
    await dir.write(pairs[2]!);
    await waitFor(
      'the poll to serve the third pair',
      async () => (await servedFingerprint(server.port, ca.certPem)) === fingerprintOf(pairs[2]!.certPem),
    );

    const text = await metrics.registry.metrics();
    expect(text).to.include('pod_hardener_tls_reloads_total{result="failure"} 0');
    const notAfter = Date.parse(new X509Certificate(pairs[2]!.certPem).validTo) / 1000;
    expect(text).to.include(`pod_hardener_tls_serving_certificate_expiry_timestamp_seconds ${notAfter}`);
    expect(createPrivateKey(await readFile(dir.keyFile, 'utf8')).asymmetricKeyType).to.equal('ec');
  });
});
