import { randomBytes, webcrypto } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import type * as X509 from '@peculiar/x509';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

const EC_KEY: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGNING: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
const DAY_MS = 24 * 60 * 60 * 1000;
// Back-dating notBefore tolerates clients whose clocks run a little behind ours.
const CLOCK_SKEW_MS = 5 * 60 * 1000;

/**
 * @peculiar/x509 resolves its algorithms through tsyringe, which refuses to load without a Reflect
 * metadata polyfill. Loading both lazily keeps them out of processes that are given certificate files.
 */
let x509Module: Promise<typeof X509> | undefined;

function loadX509(): Promise<typeof X509> {
  x509Module ??= (async () => {
    await import('reflect-metadata');
    const x509 = await import('@peculiar/x509');
    // x509 signs through WebCrypto; outside a browser, Node's implementation is the one to use.
    x509.cryptoProvider.set(webcrypto);
    return x509;
  })();
  return x509Module;
}

export const LOCAL_DNS_NAMES: readonly string[] = ['localhost'];
export const LOCAL_IP_ADDRESSES: readonly string[] = ['127.0.0.1', '::1'];

/** A certificate and its private key, both PEM (the key as unencrypted PKCS#8). */
export interface PemKeyPair {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface ServingCertificateOptions {
  /** DNS names for the subjectAltName; default localhost. */
  readonly dnsNames?: readonly string[];
  /** IP addresses for the subjectAltName; default 127.0.0.1 and ::1. */
  readonly ipAddresses?: readonly string[];
  readonly commonName?: string;
  readonly validityDays?: number;
  /** Overrides validityDays; short lifetimes let tests and rotation drills run in seconds. */
  readonly validitySeconds?: number;
  /** The issuing time; default the current time. */
  readonly now?: Date;
}

export interface CertificateAuthorityOptions {
  readonly commonName?: string;
  readonly validityDays?: number;
  /** Overrides validityDays. */
  readonly validitySeconds?: number;
  /** The issuing time; default the current time. */
  readonly now?: Date;
}

async function newKeyPair(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify']);
}

async function privateKeyPem(x509: typeof X509, key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

async function importPrivateKey(x509: typeof X509, pem: string): Promise<CryptoKey> {
  const [der] = x509.PemConverter.decode(pem);
  if (der === undefined) throw new Error('no PEM block found in the private key');
  return webcrypto.subtle.importKey('pkcs8', der, EC_KEY, false, ['sign']);
}

function lifetimeMs(
  options: { readonly validityDays?: number; readonly validitySeconds?: number },
  defaultDays: number,
): number {
  return options.validitySeconds !== undefined
    ? options.validitySeconds * 1000
    : (options.validityDays ?? defaultDays) * DAY_MS;
}

function validity(ms: number, now: Date | undefined): { notBefore: Date; notAfter: Date } {
  const start = (now ?? new Date()).getTime();
  // A certificate living seconds (a rotation drill) must not spend most of its life back-dated.
  const backdate = Math.min(CLOCK_SKEW_MS, Math.floor(ms / 10));
  return { notBefore: new Date(start - backdate), notAfter: new Date(start + ms) };
}

// A positive serial of 16 random bytes, as RFC 5280 and the CA/Browser Forum rules expect.
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString('hex');
}

function subjectAltNames(
  x509: typeof X509,
  options: ServingCertificateOptions,
): X509.SubjectAlternativeNameExtension {
  const dns = options.dnsNames ?? LOCAL_DNS_NAMES;
  const ips = options.ipAddresses ?? LOCAL_IP_ADDRESSES;
  for (const ip of ips) if (isIP(ip) === 0) throw new Error(`not an IP address: ${ip}`);
  const names: X509.JsonGeneralName[] = [
    ...[...new Set(dns)].map((value) => ({ type: 'dns' as const, value })),
    ...[...new Set(ips)].map((value) => ({ type: 'ip' as const, value })),
  ];
  if (names.length === 0) throw new Error('a serving certificate needs at least one DNS name or IP address');
  return new x509.SubjectAlternativeNameExtension(names);
}

async function servingExtensions(
  x509: typeof X509,
  publicKey: CryptoKey,
  options: ServingCertificateOptions,
): Promise<X509.Extension[]> {
  return [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    subjectAltNames(x509, options),
    await x509.SubjectKeyIdentifierExtension.create(publicKey),
  ];
}

// The structured form, because a DN string would let a ',' or '=' in the name add attributes.
function subjectName(commonName: string): X509.JsonName {
  return [{ CN: [commonName] }];
}

function commonNameOf(options: ServingCertificateOptions): string {
  return options.commonName ?? options.dnsNames?.[0] ?? 'localhost';
}

/**
 * A self-signed ECDSA P-256 serving certificate, usable directly as a client's trust anchor
 * (curl --cacert, a webhook caBundle).
 */
export async function createSelfSignedCertificate(
  options: ServingCertificateOptions = {},
): Promise<PemKeyPair> {
  const x509 = await loadX509();
  const keys = await newKeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: subjectName(commonNameOf(options)),
    ...validity(lifetimeMs(options, 365), options.now),
    keys,
    signingAlgorithm: SIGNING,
    extensions: await servingExtensions(x509, keys.publicKey, options),
  });
  return { certPem: cert.toString('pem'), keyPem: await privateKeyPem(x509, keys.privateKey) };
}

/** A CA is just its PEM pair, so one persisted in a Secret can be loaded back and reused. */
export type CertificateAuthority = PemKeyPair;

export async function createCertificateAuthority(
  options: CertificateAuthorityOptions = {},
): Promise<CertificateAuthority> {
  const x509 = await loadX509();
  const keys = await newKeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: subjectName(options.commonName ?? 'pod-hardener CA'),
    ...validity(lifetimeMs(options, 3650), options.now),
    keys,
    signingAlgorithm: SIGNING,
    extensions: [
      // pathLength 0: this CA signs serving certificates only, never another CA.
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await privateKeyPem(x509, keys.privateKey) };
}

/**
 * A serving certificate signed by `ca`; clients trust it through the CA certificate alone. It never
 * outlives the CA: its notAfter is capped at the CA's.
 */
export async function issueServingCertificate(
  ca: CertificateAuthority,
  options: ServingCertificateOptions = {},
): Promise<PemKeyPair> {
  const x509 = await loadX509();
  const caCert = new x509.X509Certificate(ca.certPem);
  const caKey = await importPrivateKey(x509, ca.keyPem);
  const keys = await newKeyPair();
  const { notBefore, notAfter } = validity(lifetimeMs(options, 365), options.now);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: subjectName(commonNameOf(options)),
    issuer: caCert.subject,
    notBefore,
    notAfter: notAfter > caCert.notAfter ? caCert.notAfter : notAfter,
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: SIGNING,
    extensions: [
      ...(await servingExtensions(x509, keys.publicKey, options)),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await privateKeyPem(x509, keys.privateKey) };
}

export interface CertificateFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

async function writeAtomically(file: string, data: string, mode: number): Promise<void> {
  // A watcher (our own server's reload, or another process) must never see a half-written file.
  const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temp, data, { mode, flag: 'wx' });
  await rename(temp, file);
}

/**
 * Writes a pair as `tls.crt` and `tls.key` (the kubernetes.io/tls Secret names), the key readable by
 * its owner only. The directory is created if needed.
 */
export async function writeCertificateFiles(dir: string, pair: PemKeyPair): Promise<CertificateFiles> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const certFile = path.join(dir, 'tls.crt');
  const keyFile = path.join(dir, 'tls.key');
  await writeAtomically(keyFile, pair.keyPem, 0o600);
  await writeAtomically(certFile, pair.certPem, 0o644);
  return { certFile, keyFile };
}

/** Generates a self-signed certificate for localhost (plus `options`) and writes it to `dir`. */
export async function writeSelfSignedCertificate(
  dir: string,
  options: ServingCertificateOptions = {},
): Promise<CertificateFiles & PemKeyPair> {
  const pair = await createSelfSignedCertificate({
    ...options,
    dnsNames: [...LOCAL_DNS_NAMES, ...(options.dnsNames ?? [])],
    ipAddresses: [...LOCAL_IP_ADDRESSES, ...(options.ipAddresses ?? [])],
  });
  return { ...pair, ...(await writeCertificateFiles(dir, pair)) };
}
