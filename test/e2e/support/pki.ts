/**
 * The control plane's own PKI for the end-to-end suite: one CA that signs the API server's serving
 * certificate and the client certificates the admin, the controller manager and the API server's
 * webhook client use, plus the service-account signing key. Kept apart from src/tls so the suite
 * does not depend on the code it tests to set up its judge.
 */
import 'reflect-metadata';
import { generateKeyPairSync, randomBytes, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto);

const ALGORITHM: webcrypto.EcKeyGenParams & webcrypto.EcdsaParams = {
  name: 'ECDSA',
  namedCurve: 'P-256',
  hash: 'SHA-256',
};
const DAY_MS = 86_400_000;

export interface Issued {
  readonly certPem: string;
  readonly keyPem: string;
}

interface Authority extends Issued {
  readonly certificate: x509.X509Certificate;
  readonly privateKey: webcrypto.CryptoKey;
}

export interface ControlPlanePki {
  readonly ca: Issued;
  readonly apiServer: Issued;
  readonly admin: Issued;
  readonly controllerManager: Issued;
  /** For the e2e node (test/e2e/node): scheduler, kubelet identity and serving pair, API server to kubelet. */
  readonly scheduler: Issued;
  readonly kubeletClient: Issued;
  readonly node: Issued;
  readonly kubeletServing: Issued;
  /** RSA, because the API server's service-account token signer wants RSA or ECDSA in PEM; RSA is the common case. */
  readonly serviceAccountKeyPem: string;
  readonly serviceAccountPublicPem: string;
}

function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString('hex');
}

async function keyPem(key: webcrypto.CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

function validity(): { notBefore: Date; notAfter: Date } {
  const now = Date.now();
  return { notBefore: new Date(now - DAY_MS), notAfter: new Date(now + DAY_MS) };
}

async function createAuthority(): Promise<Authority> {
  const keys = await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: 'CN=pod-hardener-e2e-ca',
    ...validity(),
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return {
    certificate,
    privateKey: keys.privateKey,
    certPem: certificate.toString('pem'),
    keyPem: await keyPem(keys.privateKey),
  };
}

async function issue(
  authority: Authority,
  subject: string,
  usage: 'server' | 'client',
  altNames: readonly x509.JsonGeneralName[] = [],
): Promise<Issued> {
  const keys = await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([
      usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth,
    ]),
    await x509.AuthorityKeyIdentifierExtension.create(authority.certificate),
  ];
  if (altNames.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension([...altNames]));
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject,
    issuer: authority.certificate.subject,
    ...validity(),
    publicKey: keys.publicKey,
    signingKey: authority.privateKey,
    signingAlgorithm: ALGORITHM,
    extensions,
  });
  return { certPem: certificate.toString('pem'), keyPem: await keyPem(keys.privateKey) };
}

/** The e2e node's name and its IP (a /32 on lo, see test/e2e/node/host.sh); the kubernetes Service's ClusterIP. */
export const NODE_NAME = 'e2e-node';
export const NODE_IP = '10.99.0.1';
export const KUBERNETES_SERVICE_IP = '10.96.0.1';

export async function createControlPlanePki(): Promise<ControlPlanePki> {
  const ca = await createAuthority();
  const serviceAccount = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    ca: { certPem: ca.certPem, keyPem: ca.keyPem },
    apiServer: await issue(ca, 'CN=kube-apiserver', 'server', [
      { type: 'ip', value: '127.0.0.1' },
      { type: 'dns', value: 'localhost' },
      { type: 'dns', value: 'kubernetes.default.svc' },
      { type: 'dns', value: 'kubernetes.default.svc.cluster.local' },
      { type: 'dns', value: 'kubernetes.default' },
      { type: 'dns', value: 'kubernetes' },
      { type: 'ip', value: NODE_IP },
      { type: 'ip', value: KUBERNETES_SERVICE_IP },
    ]),
    // system:masters bypasses RBAC; the webhook itself runs with its own ServiceAccount's token.
    admin: await issue(ca, 'CN=e2e-admin,O=system:masters', 'client'),
    controllerManager: await issue(ca, 'CN=system:kube-controller-manager', 'client'),
    scheduler: await issue(ca, 'CN=system:kube-scheduler', 'client'),
    // system:masters: the API server's calls to the kubelet (logs, exec) pass the kubelet's webhook authorization.
    kubeletClient: await issue(ca, 'CN=kube-apiserver-kubelet-client,O=system:masters', 'client'),
    node: await issue(ca, `CN=system:node:${NODE_NAME},O=system:nodes`, 'client'),
    kubeletServing: await issue(ca, `CN=system:node:${NODE_NAME}`, 'server', [
      { type: 'ip', value: NODE_IP },
      { type: 'dns', value: NODE_NAME },
    ]),
    serviceAccountKeyPem: serviceAccount.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    serviceAccountPublicPem: serviceAccount.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** A throwaway serving pair signed by a throwaway CA, for test-only webhooks. */
export async function createServingPair(): Promise<{ caPem: string; serving: Issued }> {
  const ca = await createAuthority();
  const serving = await issue(ca, 'CN=127.0.0.1', 'server', [{ type: 'ip', value: '127.0.0.1' }]);
  return { caPem: ca.certPem, serving };
}
