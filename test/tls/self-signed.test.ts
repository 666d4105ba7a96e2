import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import {
  createCertificateAuthority,
  createSelfSignedCertificate,
  issueServingCertificate,
  writeSelfSignedCertificate,
  type PemKeyPair,
} from '../../src/tls/self-signed.js';

/** Serves `pair` and fetches from it with only `trust` as CA, as curl --cacert would. */
async function fetchWith(
  pair: PemKeyPair,
  trust: string,
  host: string,
  servername?: string,
): Promise<number> {
  const server = https.createServer({ cert: pair.certPem, key: pair.keyPem }, (_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    return await new Promise<number>((resolve, reject) => {
      https
        .get({ host, port, ca: trust, agent: false, ...(servername ? { servername } : {}) }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .on('error', reject);
    });
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

describe('tls/self-signed', () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'pod-hardener-test-'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates an ECDSA P-256 certificate for localhost, 127.0.0.1 and ::1', async () => {
    const pair = await createSelfSignedCertificate();
    const cert = new X509Certificate(pair.certPem);
    expect(cert.subjectAltName).to.include('DNS:localhost');
    expect(cert.subjectAltName).to.include('IP Address:127.0.0.1');
    expect(cert.subjectAltName).to.match(/IP Address:0:0:0:0:0:0:0:1|IP Address:::1/i);
    expect(cert.publicKey.asymmetricKeyType).to.equal('ec');
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).to.equal('prime256v1');
    expect(cert.ca).to.equal(false);
    expect(cert.checkPrivateKey(createPrivateKey(pair.keyPem))).to.equal(true);
    expect(pair.keyPem).to.match(/^-----BEGIN PRIVATE KEY-----/);
    expect(new Date(cert.validFrom).getTime()).to.be.below(Date.now());
  });

  it('is trusted as its own CA by a TLS client, by name and by IP', async () => {
    const pair = await createSelfSignedCertificate();
    expect(await fetchWith(pair, pair.certPem, 'localhost')).to.equal(200);
    expect(await fetchWith(pair, pair.certPem, '127.0.0.1')).to.equal(200);
  });

  it('adds extra DNS names and writes the key with mode 0600', async () => {
    const files = await writeSelfSignedCertificate(path.join(dir, 'extra'), {
      dnsNames: ['pod-hardener.pod-hardener.svc'],
    });
    const cert = new X509Certificate(await readFile(files.certFile));
    expect(cert.subjectAltName).to.include('DNS:localhost');
    expect(cert.subjectAltName).to.include('DNS:pod-hardener.pod-hardener.svc');
    expect((await stat(files.keyFile)).mode & 0o777).to.equal(0o600);
    expect(await readFile(files.keyFile, 'utf8')).to.equal(files.keyPem);
    expect(path.basename(files.certFile)).to.equal('tls.crt');
    expect(path.basename(files.keyFile)).to.equal('tls.key');
  });

  it('makes a new key every time', async () => {
    const [a, b] = await Promise.all([createSelfSignedCertificate(), createSelfSignedCertificate()]);
    expect(a.keyPem).not.to.equal(b.keyPem);
  });

  it('issues serving certificates from a CA that clients trust through the CA alone', async () => {
    const ca = await createCertificateAuthority({ commonName: 'test CA' });
    const caCert = new X509Certificate(ca.certPem);
    expect(caCert.ca).to.equal(true);

    const leaf = await issueServingCertificate(ca, {
      dnsNames: ['pod-hardener.pod-hardener.svc', 'localhost'],
      ipAddresses: ['127.0.0.1'],
    });
    const leafCert = new X509Certificate(leaf.certPem);
    expect(leafCert.checkIssued(caCert)).to.equal(true);
    expect(leafCert.verify(caCert.publicKey)).to.equal(true);
    expect(leafCert.ca).to.equal(false);
    expect(await fetchWith(leaf, ca.certPem, 'localhost')).to.equal(200);
    expect(await fetchWith(leaf, ca.certPem, '127.0.0.1', 'pod-hardener.pod-hardener.svc')).to.equal(200);
  });

  it('takes lifetimes in seconds and an issuing time, back-dating short lifetimes only a little', async () => {
    const now = new Date('2030-01-01T00:00:00Z');
    const ca = await createCertificateAuthority({ validitySeconds: 90, now });
    const caCert = new X509Certificate(ca.certPem);
    expect(new Date(caCert.validTo).toISOString()).to.equal('2030-01-01T00:01:30.000Z');
    expect(new Date(caCert.validFrom).toISOString()).to.equal('2029-12-31T23:59:51.000Z');

    const leaf = await issueServingCertificate(ca, { validitySeconds: 45, now });
    const leafCert = new X509Certificate(leaf.certPem);
    expect(new Date(leafCert.validTo).toISOString()).to.equal('2030-01-01T00:00:45.000Z');
    expect(new Date(leafCert.validFrom).toISOString()).to.equal('2029-12-31T23:59:55.000Z');
  });

  it('never issues a serving certificate that outlives its CA', async () => {
    const ca = await createCertificateAuthority({ validitySeconds: 60 });
    const leaf = await issueServingCertificate(ca, { validityDays: 30 });
    expect(new X509Certificate(leaf.certPem).validTo).to.equal(new X509Certificate(ca.certPem).validTo);
  });

  it('refuses a malformed IP address', async () => {
    let error: unknown;
    try {
      await createSelfSignedCertificate({ ipAddresses: ['not-an-ip'] });
    } catch (err) {
      error = err;
    }
    expect(String(error)).to.include('not an IP address: not-an-ip');
  });
});
