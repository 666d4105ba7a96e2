/**
 * Reading certificates and keys: PEM parsing, whether a key belongs to a certificate, lifetimes, names and
 * fingerprints. Synchronous node:crypto only, no I/O.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { isIP } from 'node:net';

/** A certificate and its PEM private key. */
export interface PemPair {
  readonly certPem: string;
  readonly keyPem: string;
}

const PEM_CERTIFICATE_RE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** Every certificate in a PEM text that parses, in order; anything else is ignored. */
export function parseCertificates(pem: string | undefined): X509Certificate[] {
  const out: X509Certificate[] = [];
  for (const block of pem?.match(PEM_CERTIFICATE_RE) ?? []) {
    const cert = parseCertificate(block);
    if (cert !== undefined) out.push(cert);
  }
  return out;
}

export function parseCertificate(pem: string | undefined): X509Certificate | undefined {
  if (pem === undefined || pem.trim() === '') return undefined;
  try {
    return new X509Certificate(pem);
  } catch {
    return undefined;
  }
}

export function keyMatch(
  cert: X509Certificate,
  keyPem: string | undefined,
): 'match' | 'mismatch' | 'missing' | 'invalid' {
  if (keyPem === undefined || keyPem.trim() === '') return 'missing';
  let key;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    return 'invalid';
  }
  try {
    return cert.checkPrivateKey(key) ? 'match' : 'mismatch';
  } catch {
    return 'mismatch';
  }
}

export function notAfterMs(cert: X509Certificate): number {
  return Date.parse(cert.validTo);
}

export function notBeforeMs(cert: X509Certificate): number {
  return Date.parse(cert.validFrom);
}

/** The PEM form node:crypto writes; comparing and joining these is stable whatever the input spacing. */
export function normalisedPem(cert: X509Certificate): string {
  const pem = cert.toString();
  return pem.endsWith('\n') ? pem : `${pem}\n`;
}

export function bundleText(pems: readonly string[]): string {
  return pems.join('');
}

export function issuedBy(cert: X509Certificate, ca: X509Certificate): boolean {
  try {
    return cert.checkIssued(ca) && cert.verify(ca.publicKey);
  } catch {
    return false;
  }
}

export function canonicalIp(ip: string): string {
  return isIP(ip) === 6 ? new URL(`http://[${ip}]/`).hostname : ip;
}

/** DNS names and IP addresses in the certificate's subjectAltName. */
export function subjectAltNames(cert: X509Certificate): { dns: Set<string>; ip: Set<string> } {
  const dns = new Set<string>();
  const ip = new Set<string>();
  for (const entry of (cert.subjectAltName ?? '').split(', ')) {
    if (entry.startsWith('DNS:')) dns.add(entry.slice(4).toLowerCase());
    else if (entry.startsWith('IP Address:')) ip.add(canonicalIp(entry.slice(11)));
  }
  return { dns, ip };
}

/** SHA-256 fingerprints of the certificates in a PEM text, in order. */
export function fingerprints(pem: string | undefined): string[] {
  return parseCertificates(pem).map((c) => c.fingerprint256);
}
