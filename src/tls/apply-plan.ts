import { bundleText, normalisedPem, parseCertificate, type PemPair } from './certificates.js';
import { SECRET_KEYS, type RotationPlan, type SecretData } from './rotation.js';

export interface CertificateIssuer {
  createCa(): Promise<PemPair>;
  issueServing(ca: PemPair): Promise<PemPair>;
}

export interface AppliedPlan {
  readonly data: SecretData;
  /** Set when a CA was created. */
  readonly ca?: PemPair;
  /** Set when a serving certificate was issued. */
  readonly serving?: PemPair;
}

/** Carries out a plan from `decide`; the only effects are the issuer's (key generation). */
export async function applyPlan(
  data: SecretData | undefined,
  plan: RotationPlan,
  issuer: CertificateIssuer,
): Promise<AppliedPlan> {
  const old = data ?? {};
  const currentCa: PemPair = { certPem: old[SECRET_KEYS.caCert] ?? '', keyPem: old[SECRET_KEYS.caKey] ?? '' };
  let serving: PemPair | undefined;
  if (plan.issueServing?.signer === 'current-ca') serving = await issuer.issueServing(currentCa);
  const ca = plan.newCa === undefined ? undefined : await issuer.createCa();
  if (plan.issueServing?.signer === 'new-ca') {
    if (ca === undefined) throw new Error('a plan that signs with a new CA must create one');
    serving = await issuer.issueServing(ca);
  }
  const caPair = ca ?? currentCa;
  const caCert = parseCertificate(caPair.certPem);
  if (caCert === undefined) throw new Error('the CA certificate does not parse');
  const next: Record<string, string> = {
    ...old,
    [SECRET_KEYS.servingCert]: serving?.certPem ?? old[SECRET_KEYS.servingCert] ?? '',
    [SECRET_KEYS.servingKey]: serving?.keyPem ?? old[SECRET_KEYS.servingKey] ?? '',
    [SECRET_KEYS.caCert]: caPair.certPem,
    [SECRET_KEYS.caKey]: caPair.keyPem,
    [SECRET_KEYS.caBundle]: bundleText([normalisedPem(caCert), ...plan.previousCas]),
  };
  return { data: next, ...(ca === undefined ? {} : { ca }), ...(serving === undefined ? {} : { serving }) };
}
