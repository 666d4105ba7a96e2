/**
 * The decisions of self-managed TLS, as pure functions: given what the Secret holds, the time and what is
 * known about the webhook configuration's caBundle, what the Secret must hold next. No I/O and no clock;
 * certificates are parsed with node:crypto, which is synchronous and deterministic.
 *
 * The invariant: the caBundle the API server uses always contains the CA that signed every serving
 * certificate any replica may be serving. Hence:
 * - a serving certificate is renewed when less than a third of its lifetime remains, by the CA that
 *   signed it while that CA is still the current one (and so already trusted);
 * - a CA is renewed when less than a third of its lifetime remains: the new CA becomes `ca.crt` and is
 *   published in `ca-bundle.crt` next to the old one, while the serving certificate (signed by the old
 *   CA) stays as it is; its renewal, if due, happens in the same pass, by the old CA, before the old
 *   CA's key is dropped;
 * - only once the webhook configuration has trusted the new CA for `promotionDelayMs` (at least one poll
 *   interval, so the API server has loaded it) is the serving certificate re-issued by the new CA;
 * - an old CA leaves the bundle when it expires: every certificate it signed expires with it (issued
 *   certificates never outlive their CA), so none can still be in use.
 * Anything unusable (missing, corrupt, expired, a key that does not match) is replaced at once: there is
 * nothing to preserve.
 */
import type { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import {
  bundleText,
  canonicalIp,
  issuedBy,
  keyMatch,
  normalisedPem,
  notAfterMs,
  notBeforeMs,
  parseCertificate,
  parseCertificates,
  subjectAltNames,
  type PemPair,
} from './certificates.js';

/** Keys of the Secret's data. tls.crt and tls.key are the kubernetes.io/tls names. */
export const SECRET_KEYS = {
  servingCert: 'tls.crt',
  servingKey: 'tls.key',
  caCert: 'ca.crt',
  caKey: 'ca.key',
  caBundle: 'ca-bundle.crt',
} as const;

/** The Secret's data, decoded to text; undefined when the Secret does not exist. */
export type SecretData = Readonly<Record<string, string>>;

export interface RotationSettings {
  /** Names the serving certificate must cover (it may cover more). */
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  /** How long the webhook configuration must have trusted a new CA before it signs serving certificates. */
  readonly promotionDelayMs: number;
}

export interface RotationInput {
  readonly data: SecretData | undefined;
  /** Epoch milliseconds. */
  readonly now: number;
  /**
   * Since when (epoch ms) every webhook of the webhook configuration is known to trust the CA in the
   * Secret's `ca.crt`; undefined when that is not known.
   */
  readonly caTrustedSince: number | undefined;
}

export type CaReason = 'missing' | 'invalid' | 'not-a-ca' | 'key-mismatch' | 'expired' | 'renewal-due';
export type ServingReason =
  | 'missing'
  | 'invalid'
  | 'key-mismatch'
  | 'expired'
  | 'names-changed'
  | 'untrusted-issuer'
  | 'renewal-due'
  | 'ca-promotion';

export interface RotationPlan {
  /**
   * Issue a new serving certificate. `current-ca`: signed by the CA the Secret holds now (before any new
   * CA below is created); `new-ca`: by the CA created in this plan.
   */
  readonly issueServing?: { readonly reason: ServingReason; readonly signer: 'current-ca' | 'new-ca' };
  /** Create a new CA, which becomes ca.crt/ca.key. */
  readonly newCa?: { readonly reason: CaReason };
  /** Normalised PEM certificates that stay in ca-bundle.crt after the current CA. */
  readonly previousCas: readonly string[];
}

export type Decision =
  | { readonly kind: 'keep'; readonly waiting?: string }
  | { readonly kind: 'write'; readonly plan: RotationPlan; readonly waiting?: string };

const KEY_PROBLEM = { missing: 'missing', invalid: 'invalid', mismatch: 'key-mismatch' } as const;

/** Less than a third of the certificate's own lifetime is left. */
function renewalDue(cert: X509Certificate, now: number): boolean {
  const lifetime = notAfterMs(cert) - notBeforeMs(cert);
  return notAfterMs(cert) - now < lifetime / 3;
}

function expired(cert: X509Certificate, now: number): boolean {
  return now >= notAfterMs(cert);
}

function coversNames(cert: X509Certificate, settings: RotationSettings): boolean {
  const san = subjectAltNames(cert);
  return (
    settings.dnsNames.every((n) => san.dns.has(n.toLowerCase())) &&
    settings.ipAddresses.every((ip) => san.ip.has(canonicalIp(ip)))
  );
}

type CaState =
  | { readonly usable: true; readonly cert: X509Certificate }
  | {
      readonly usable: false;
      readonly reason: Exclude<CaReason, 'renewal-due'>;
      readonly cert?: X509Certificate;
    };

function inspectCa(data: SecretData, now: number): CaState {
  const raw = data[SECRET_KEYS.caCert];
  if (raw === undefined || raw.trim() === '') return { usable: false, reason: 'missing' };
  const cert = parseCertificate(raw);
  if (cert === undefined) return { usable: false, reason: 'invalid' };
  if (!cert.ca) return { usable: false, reason: 'not-a-ca' };
  if (expired(cert, now)) return { usable: false, reason: 'expired', cert };
  const match = keyMatch(cert, data[SECRET_KEYS.caKey]);
  // The certificate alone still vouches for what it signed, so it is kept in the bundle (`cert`).
  if (match !== 'match') return { usable: false, reason: KEY_PROBLEM[match], cert };
  return { usable: true, cert };
}

type ServingState =
  | { readonly usable: true; readonly cert: X509Certificate; readonly issuer: X509Certificate }
  | { readonly usable: false; readonly reason: ServingReason };

function inspectServing(
  data: SecretData,
  trusted: readonly X509Certificate[],
  settings: RotationSettings,
  now: number,
): ServingState {
  const raw = data[SECRET_KEYS.servingCert];
  if (raw === undefined || raw.trim() === '') return { usable: false, reason: 'missing' };
  const cert = parseCertificate(raw);
  if (cert === undefined || cert.ca) return { usable: false, reason: 'invalid' };
  const match = keyMatch(cert, data[SECRET_KEYS.servingKey]);
  if (match !== 'match') return { usable: false, reason: KEY_PROBLEM[match] };
  if (expired(cert, now)) return { usable: false, reason: 'expired' };
  if (!coversNames(cert, settings)) return { usable: false, reason: 'names-changed' };
  const issuer = trusted.find((ca) => issuedBy(cert, ca));
  if (issuer === undefined) return { usable: false, reason: 'untrusted-issuer' };
  return { usable: true, cert, issuer };
}

/**
 * CAs that stay in the bundle behind the current one: every unexpired CA certificate of the old bundle,
 * and the old ca.crt when it is being replaced, without duplicates and in their old order.
 */
function previousCas(
  data: SecretData,
  current: X509Certificate | undefined,
  replaced: X509Certificate | undefined,
  now: number,
): X509Certificate[] {
  const seen = new Set<string>(current === undefined ? [] : [current.fingerprint256]);
  const out: X509Certificate[] = [];
  const candidates = [
    ...(replaced === undefined ? [] : [replaced]),
    ...parseCertificates(data[SECRET_KEYS.caBundle]),
  ];
  for (const cert of candidates) {
    if (!cert.ca || expired(cert, now) || seen.has(cert.fingerprint256)) continue;
    seen.add(cert.fingerprint256);
    out.push(cert);
  }
  return out;
}

/** What to do with the Secret on this pass. See the module comment for the scheme. */
export function decide(input: RotationInput, settings: RotationSettings): Decision {
  const { now } = input;
  const data = input.data ?? {};
  const ca = inspectCa(data, now);

  const caRenewalDue = ca.usable && renewalDue(ca.cert, now);
  const newCa: RotationPlan['newCa'] = !ca.usable
    ? { reason: ca.reason }
    : caRenewalDue
      ? { reason: 'renewal-due' }
      : undefined;

  // The bundle after this pass: the current CA (unless replaced now), then the previous ones.
  const currentKept = ca.usable && newCa === undefined ? ca.cert : undefined;
  const replaced = newCa === undefined ? undefined : ca.cert;
  const previous = previousCas(data, currentKept, replaced, now);
  // A serving certificate is only kept when a CA of the new bundle vouches for it. The CA being replaced
  // is in `previous`, so what it signed stays usable until promotion.
  const bundleCas = [...(currentKept === undefined ? [] : [currentKept]), ...previous];
  const serving = inspectServing(data, bundleCas, settings, now);

  let issueServing: RotationPlan['issueServing'];
  let waiting: string | undefined;
  if (!serving.usable) {
    issueServing = { reason: serving.reason, signer: ca.usable ? 'current-ca' : 'new-ca' };
  } else if (ca.usable && serving.issuer.fingerprint256 === ca.cert.fingerprint256) {
    // Signed by the current CA, which is trusted: renew with it (also when the CA itself is being renewed
    // in this pass; the new CA is not trusted yet, the old one stays in the bundle).
    if (renewalDue(serving.cert, now)) issueServing = { reason: 'renewal-due', signer: 'current-ca' };
  } else if (ca.usable && newCa === undefined) {
    // Signed by a previous CA: move to the current one once the API server has trusted it long enough.
    const trustedFor = input.caTrustedSince === undefined ? undefined : now - input.caTrustedSince;
    if (trustedFor !== undefined && trustedFor >= settings.promotionDelayMs) {
      issueServing = { reason: 'ca-promotion', signer: 'current-ca' };
    } else {
      // No durations in the text: the shell logs it when it changes, not on every pass.
      waiting =
        trustedFor === undefined
          ? 'the webhook configuration does not trust the current CA yet'
          : 'the webhook configuration has trusted the current CA for less than the promotion delay';
    }
  } else {
    // The CA is being replaced in this pass and did not sign the serving certificate: keep that until the
    // new CA is trusted.
    waiting = 'a new CA is being published; serving certificates move to it on a later pass';
  }

  const previousPems = previous.map(normalisedPem);
  const unchanged =
    input.data !== undefined &&
    currentKept !== undefined &&
    issueServing === undefined &&
    data[SECRET_KEYS.caBundle] === bundleText([normalisedPem(currentKept), ...previousPems]);
  if (unchanged) return waiting === undefined ? { kind: 'keep' } : { kind: 'keep', waiting };
  const plan: RotationPlan = {
    ...(issueServing === undefined ? {} : { issueServing }),
    ...(newCa === undefined ? {} : { newCa }),
    previousCas: previousPems,
  };
  return waiting === undefined ? { kind: 'write', plan } : { kind: 'write', plan, waiting };
}

/** The serving pair the Secret holds, if its certificate and key parse and belong together. */
export function servingPair(data: SecretData | undefined): PemPair | undefined {
  const certPem = data?.[SECRET_KEYS.servingCert];
  const keyPem = data?.[SECRET_KEYS.servingKey];
  const cert = parseCertificate(certPem);
  if (cert === undefined || certPem === undefined || keyPem === undefined) return undefined;
  return keyMatch(cert, keyPem) === 'match' ? { certPem, keyPem } : undefined;
}

/**
 * The serving certificate's names for a Service: svc.ns.svc, svc, svc.ns, svc.ns.svc.cluster.local, plus
 * extra hosts, split into DNS names and IP addresses.
 */
export function servingNames(
  service: string,
  namespace: string,
  extraHosts: readonly string[],
): { dnsNames: string[]; ipAddresses: string[] } {
  // The first is also the common name: the name the API server uses to call a Service.
  const dnsNames = [
    `${service}.${namespace}.svc`,
    service,
    `${service}.${namespace}`,
    `${service}.${namespace}.svc.cluster.local`,
  ];
  const ipAddresses: string[] = [];
  for (const host of extraHosts) {
    if (isIP(host) !== 0) ipAddresses.push(host);
    else dnsNames.push(host.toLowerCase());
  }
  return { dnsNames: [...new Set(dnsNames)], ipAddresses: [...new Set(ipAddresses)] };
}
