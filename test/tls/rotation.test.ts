import { X509Certificate } from 'node:crypto';
import { expect } from 'chai';
import { applyPlan, type CertificateIssuer } from '../../src/tls/apply-plan.js';
import { fingerprints, type PemPair } from '../../src/tls/certificates.js';
import {
  SECRET_KEYS,
  decide,
  servingNames,
  servingPair,
  type Decision,
  type RotationPlan,
  type RotationSettings,
  type SecretData,
} from '../../src/tls/rotation.js';
import { createCertificateAuthority, issueServingCertificate } from '../../src/tls/self-signed.js';

const SECOND = 1000;
const DAY = 24 * 60 * 60 * SECOND;
// Whole seconds: certificates carry their dates with a one-second resolution.
const NOW = Date.parse('2031-03-01T12:00:00Z');
const NAMES = { dnsNames: ['pod-hardener.ns.svc', 'pod-hardener'], ipAddresses: ['127.0.0.1'] };
const SETTINGS: RotationSettings = { ...NAMES, promotionDelayMs: 10 * SECOND };

function pem(cert: string): string {
  return new X509Certificate(cert).toString();
}

function bundle(...cas: PemPair[]): string {
  return cas.map((ca) => pem(ca.certPem)).join('');
}

function secret(ca: PemPair, serving: PemPair, caBundle: string = bundle(ca)): SecretData {
  return {
    [SECRET_KEYS.servingCert]: serving.certPem,
    [SECRET_KEYS.servingKey]: serving.keyPem,
    [SECRET_KEYS.caCert]: ca.certPem,
    [SECRET_KEYS.caKey]: ca.keyPem,
    [SECRET_KEYS.caBundle]: caBundle,
  };
}

function ca(issuedAt: number, validityDays: number): Promise<PemPair> {
  return createCertificateAuthority({
    validitySeconds: (validityDays * DAY) / SECOND,
    now: new Date(issuedAt),
  });
}

function serving(
  signer: PemPair,
  issuedAt: number,
  validityDays: number,
  names: { dnsNames: string[]; ipAddresses: string[] } = NAMES,
): Promise<PemPair> {
  return issueServingCertificate(signer, {
    ...names,
    validitySeconds: (validityDays * DAY) / SECOND,
    now: new Date(issuedAt),
  });
}

/** Issues at `now`, like the shell's issuer does at the real time. */
function issuerAt(now: number, caDays = 365, servingDays = 30): CertificateIssuer {
  return {
    createCa: () =>
      createCertificateAuthority({ validitySeconds: (caDays * DAY) / SECOND, now: new Date(now) }),
    issueServing: (signer) =>
      issueServingCertificate(signer, {
        ...NAMES,
        validitySeconds: (servingDays * DAY) / SECOND,
        now: new Date(now),
      }),
  };
}

function fingerprint(pemText: string): string {
  return new X509Certificate(pemText).fingerprint256;
}

function issuerOf(data: SecretData): string | undefined {
  const cert = new X509Certificate(data[SECRET_KEYS.servingCert] ?? '');
  return parseBundle(data).find((c) => cert.checkIssued(c) && cert.verify(c.publicKey))?.fingerprint256;
}

function parseBundle(data: SecretData): X509Certificate[] {
  const blocks = data[SECRET_KEYS.caBundle]?.match(
    /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g,
  );
  return (blocks ?? []).map((b) => new X509Certificate(b));
}

/** What a decision comes to, with PEMs replaced by the fixture names, for readable expectations. */
function summary(decision: Decision, names: ReadonlyMap<string, string>): unknown {
  if (decision.kind === 'keep') return { kind: 'keep', waiting: decision.waiting !== undefined };
  const plan: RotationPlan = decision.plan;
  return {
    kind: 'write',
    issueServing: plan.issueServing,
    newCa: plan.newCa?.reason,
    previousCas: plan.previousCas.map((p) => names.get(fingerprint(p)) ?? 'unknown'),
    waiting: decision.waiting !== undefined,
  };
}

describe('tls/rotation', () => {
  // CA "a": 10 days into a 365-day life. "old": 300 days in, so less than a third is left (renewal due).
  // "fresh": one hour old, the successor of "old". "dead": expired.
  let a: PemPair;
  let old: PemPair;
  let fresh: PemPair;
  let dead: PemPair;
  let other: PemPair;
  let names: Map<string, string>;
  // Serving certificates (30-day life): issued 5 days ago, or 25 days ago (renewal due), by each CA.
  let aNew: PemPair;
  let aDue: PemPair;
  let aExpired: PemPair;
  let aWrongNames: PemPair;
  let aMoreNames: PemPair;
  let oldNew: PemPair;
  let oldDue: PemPair;
  let freshNew: PemPair;
  let deadServing: PemPair;
  let otherServing: PemPair;

  before(async () => {
    [a, old, fresh, dead, other] = await Promise.all([
      ca(NOW - 10 * DAY, 365),
      ca(NOW - 300 * DAY, 365),
      ca(NOW - DAY / 24, 365),
      ca(NOW - 400 * DAY, 365),
      ca(NOW - 10 * DAY, 365),
    ]);
    names = new Map([
      [fingerprint(a.certPem), 'a'],
      [fingerprint(old.certPem), 'old'],
      [fingerprint(fresh.certPem), 'fresh'],
      [fingerprint(dead.certPem), 'dead'],
      [fingerprint(other.certPem), 'other'],
    ]);
    [aNew, aDue, aExpired, aWrongNames, aMoreNames, oldNew, oldDue, freshNew, deadServing, otherServing] =
      await Promise.all([
        serving(a, NOW - 5 * DAY, 30),
        serving(a, NOW - 25 * DAY, 30),
        serving(a, NOW - 31 * DAY, 30),
        serving(a, NOW - 5 * DAY, 30, {
          dnsNames: ['pod-hardener.elsewhere.svc'],
          ipAddresses: ['127.0.0.1'],
        }),
        serving(a, NOW - 5 * DAY, 30, {
          dnsNames: [...NAMES.dnsNames, 'extra.example.com'],
          ipAddresses: ['127.0.0.1', '::1'],
        }),
        serving(old, NOW - 5 * DAY, 30),
        serving(old, NOW - 25 * DAY, 30),
        serving(fresh, NOW - DAY / 48, 30),
        serving(dead, NOW - 40 * DAY, 30),
        serving(other, NOW - 5 * DAY, 30),
      ]);
  });

  interface Case {
    readonly name: string;
    readonly data: () => SecretData | undefined;
    /** Seconds before NOW since when the webhook configuration trusts ca.crt; undefined: it does not. */
    readonly trustedForSeconds?: number;
    readonly expected: unknown;
  }

  const keep = { kind: 'keep', waiting: false };
  const cases: readonly Case[] = [
    {
      name: 'fresh start (no Secret): a new CA and a serving certificate it signs',
      data: () => undefined,
      expected: {
        kind: 'write',
        issueServing: { reason: 'missing', signer: 'new-ca' },
        newCa: 'missing',
        previousCas: [],
        waiting: false,
      },
    },
    {
      name: 'an empty Secret is the same as none',
      data: () => ({}),
      expected: {
        kind: 'write',
        issueServing: { reason: 'missing', signer: 'new-ca' },
        newCa: 'missing',
        previousCas: [],
        waiting: false,
      },
    },
    { name: 'valid: nothing to do', data: () => secret(a, aNew), trustedForSeconds: 3600, expected: keep },
    {
      name: 'valid, webhook configuration not trusting yet: still nothing to do',
      data: () => secret(a, aNew),
      expected: keep,
    },
    {
      name: 'a serving certificate with more names than needed is kept',
      data: () => secret(a, aMoreNames),
      expected: keep,
    },
    {
      name: 'missing bundle: rewritten, nothing reissued',
      data: () => ({ ...secret(a, aNew), [SECRET_KEYS.caBundle]: '' }),
      expected: { kind: 'write', issueServing: undefined, newCa: undefined, previousCas: [], waiting: false },
    },
    {
      name: 'serving renewal due (less than a third left): signed by the current CA',
      data: () => secret(a, aDue),
      expected: {
        kind: 'write',
        issueServing: { reason: 'renewal-due', signer: 'current-ca' },
        newCa: undefined,
        previousCas: [],
        waiting: false,
      },
    },
    {
      name: 'serving certificate expired: reissued by the current CA',
      data: () => secret(a, aExpired),
      expected: {
        kind: 'write',
        issueServing: { reason: 'expired', signer: 'current-ca' },
        newCa: undefined,
        previousCas: [],
        waiting: false,
      },
    },
    {
      name: 'serving certificate for other names: reissued',
      data: () => secret(a, aWrongNames),
      expected: {
        kind: 'write',
        issueServing: { reason: 'names-changed', signer: 'current-ca' },
        newCa: undefined,
        previousCas: [],
        waiting: false,
      },
    },
    {
      name: 'CA renewal phase 1: new CA published next to the old one, serving certificate untouched',
      data: () => secret(old, oldNew),
      trustedForSeconds: 3600,
      expected: {
        kind: 'write',
        issueServing: undefined,
        newCa: 'renewal-due',
        previousCas: ['old'],
        waiting: false,
      },
    },
    {
      name: 'CA renewal phase 1 with the serving renewal due too: the old CA renews it before its key goes',
      data: () => secret(old, oldDue),
      trustedForSeconds: 3600,
      expected: {
        kind: 'write',
        issueServing: { reason: 'renewal-due', signer: 'current-ca' },
        newCa: 'renewal-due',
        previousCas: ['old'],
        waiting: false,
      },
    },
    {
      name: 'CA renewal phase 2, new CA not trusted by the webhook configuration yet: wait',
      data: () => secret(fresh, oldNew, bundle(fresh, old)),
      expected: { kind: 'keep', waiting: true },
    },
    {
      name: 'CA renewal phase 2, trusted for less than the promotion delay: wait',
      data: () => secret(fresh, oldNew, bundle(fresh, old)),
      trustedForSeconds: 5,
      expected: { kind: 'keep', waiting: true },
    },
    {
      name: 'CA renewal phase 2, serving renewal due but new CA not trusted: still wait (old key is gone)',
      data: () => secret(fresh, oldDue, bundle(fresh, old)),
      expected: { kind: 'keep', waiting: true },
    },
    {
      name: 'CA renewal phase 2, trusted long enough: serving certificate moves to the new CA',
      data: () => secret(fresh, oldNew, bundle(fresh, old)),
      trustedForSeconds: 10,
      expected: {
        kind: 'write',
        issueServing: { reason: 'ca-promotion', signer: 'current-ca' },
        newCa: undefined,
        previousCas: ['old'],
        waiting: false,
      },
    },
    {
      name: 'CA renewal phase 3, old CA not expired yet: it stays in the bundle',
      data: () => secret(fresh, freshNew, bundle(fresh, old)),
      trustedForSeconds: 3600,
      expected: keep,
    },
    {
      name: 'CA renewal phase 3, old CA expired: dropped from the bundle',
      data: () => secret(fresh, freshNew, bundle(fresh, dead)),
      trustedForSeconds: 3600,
      expected: { kind: 'write', issueServing: undefined, newCa: undefined, previousCas: [], waiting: false },
    },
    {
      name: 'expired everything: new CA, serving certificate signed by it, expired CA dropped',
      data: () => secret(dead, deadServing),
      trustedForSeconds: 3600,
      expected: {
        kind: 'write',
        issueServing: { reason: 'expired', signer: 'new-ca' },
        newCa: 'expired',
        previousCas: [],
        waiting: false,
      },
    },
    {
      name: 'corrupt data everywhere: regenerated',
      data: () => ({
        [SECRET_KEYS.servingCert]: 'not a certificate',
        [SECRET_KEYS.servingKey]: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n',
        [SECRET_KEYS.caCert]: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
        [SECRET_KEYS.caKey]: 'garbage',
        [SECRET_KEYS.caBundle]: 'garbage',
      }),
      expected: {
        kind: 'write',
        issueServing: { reason: 'invalid', signer: 'new-ca' },
        newCa: 'invalid',
        previousCas: [],
        waiting: false,
      },
    },
    {
      name: 'corrupt CA certificate, bundle still holding the CA: new CA, valid serving certificate kept',
      data: () => ({ ...secret(a, aNew), [SECRET_KEYS.caCert]: 'garbage' }),
      expected: {
        kind: 'write',
        issueServing: undefined,
        newCa: 'invalid',
        previousCas: ['a'],
        waiting: true,
      },
    },
    {
      name: 'corrupt serving key: reissued',
      data: () => ({ ...secret(a, aNew), [SECRET_KEYS.servingKey]: 'garbage' }),
      expected: {
        kind: 'write',
        issueServing: { reason: 'invalid', signer: 'current-ca' },
        newCa: undefined,
        previousCas: [],
        waiting: false,
      },
    },
    {
      name: 'missing serving key: reissued',
      data: () => ({ ...secret(a, aNew), [SECRET_KEYS.servingKey]: '' }),
      expected: {
        kind: 'write',
        issueServing: { reason: 'missing', signer: 'current-ca' },
        newCa: undefined,
        previousCas: [],
        waiting: false,
      },
    },
    {
      name: 'serving certificate and key that do not belong together: reissued',
      data: () => ({ ...secret(a, aNew), [SECRET_KEYS.servingKey]: aDue.keyPem }),
      expected: {
        kind: 'write',
        issueServing: { reason: 'key-mismatch', signer: 'current-ca' },
        newCa: undefined,
        previousCas: [],
        waiting: false,
      },
    },
    {
      name: 'CA certificate and key that do not belong together: new CA, old certificate kept in the bundle',
      data: () => ({ ...secret(a, aNew), [SECRET_KEYS.caKey]: other.keyPem }),
      expected: {
        kind: 'write',
        issueServing: undefined,
        newCa: 'key-mismatch',
        previousCas: ['a'],
        waiting: true,
      },
    },
    {
      name: 'serving certificate signed by a CA outside the bundle: reissued',
      data: () => secret(a, otherServing),
      expected: {
        kind: 'write',
        issueServing: { reason: 'untrusted-issuer', signer: 'current-ca' },
        newCa: undefined,
        previousCas: [],
        waiting: false,
      },
    },
    {
      name: 'a serving certificate stored as the CA: not a CA, replaced',
      data: () => ({
        ...secret(a, aNew),
        [SECRET_KEYS.caCert]: aNew.certPem,
        [SECRET_KEYS.caKey]: aNew.keyPem,
      }),
      expected: {
        kind: 'write',
        issueServing: undefined,
        newCa: 'not-a-ca',
        previousCas: ['a'],
        waiting: true,
      },
    },
    {
      name: 'duplicate and foreign entries in the bundle: deduplicated, unexpired CAs kept in order',
      data: () => secret(a, aNew, bundle(a, other, a, dead)),
      expected: {
        kind: 'write',
        issueServing: undefined,
        newCa: undefined,
        previousCas: ['other'],
        waiting: false,
      },
    },
  ];

  for (const c of cases) {
    it(c.name, async () => {
      const data = c.data();
      const caTrustedSince =
        c.trustedForSeconds === undefined ? undefined : NOW - c.trustedForSeconds * SECOND;
      const decision = decide({ data, now: NOW, caTrustedSince }, SETTINGS);
      expect(summary(decision, names)).to.deep.equal(c.expected);
      if (decision.kind === 'keep') return;

      // Carrying the plan out gives a Secret that is complete and consistent, and that the next pass keeps.
      const applied = await applyPlan(data, decision.plan, issuerAt(NOW));
      const next = applied.data;
      expect(servingPair(next), 'serving pair').not.to.equal(undefined);
      const bundleFingerprints = fingerprints(next[SECRET_KEYS.caBundle]);
      expect(bundleFingerprints[0]).to.equal(fingerprint(next[SECRET_KEYS.caCert] ?? ''));
      expect(issuerOf(next), 'serving certificate issuer is in the bundle').to.be.a('string');
      if (data !== undefined && servingPair(data) !== undefined) {
        // Replicas may still serve the previous certificate for a while: its CA stays trusted, if alive.
        const before = new X509Certificate(data[SECRET_KEYS.servingCert] ?? '');
        const issuer = parseBundle(data).find((ca) => before.checkIssued(ca) && before.verify(ca.publicKey));
        if (issuer !== undefined && Date.parse(issuer.validTo) > NOW) {
          expect(bundleFingerprints).to.include(issuer.fingerprint256);
        }
      }
      const again = decide({ data: next, now: NOW, caTrustedSince: undefined }, SETTINGS);
      expect(again.kind, JSON.stringify(summary(again, names))).to.equal('keep');
    });
  }

  it('keeps other keys of the Secret', async () => {
    const data = { ...secret(a, aDue), 'note.txt': 'left alone' };
    const decision = decide({ data, now: NOW, caTrustedSince: undefined }, SETTINGS);
    expect(decision.kind).to.equal('write');
    if (decision.kind !== 'write') return;
    const applied = await applyPlan(data, decision.plan, issuerAt(NOW));
    expect(applied.data['note.txt']).to.equal('left alone');
    expect(applied.serving).not.to.equal(undefined);
    expect(applied.ca).to.equal(undefined);
  });

  it('servingPair refuses a certificate with a key that is not its own', () => {
    expect(servingPair(secret(a, aNew))).to.deep.equal({ certPem: aNew.certPem, keyPem: aNew.keyPem });
    expect(servingPair({ ...secret(a, aNew), [SECRET_KEYS.servingKey]: aDue.keyPem })).to.equal(undefined);
    expect(servingPair(undefined)).to.equal(undefined);
  });

  it('servingNames: the Service names, then extra DNS names and IP addresses', () => {
    expect(
      servingNames('pod-hardener', 'system', ['127.0.0.1', 'Webhook.Example.com', '::1', '127.0.0.1']),
    ).to.deep.equal({
      dnsNames: [
        'pod-hardener.system.svc',
        'pod-hardener',
        'pod-hardener.system',
        'pod-hardener.system.svc.cluster.local',
        'webhook.example.com',
      ],
      ipAddresses: ['127.0.0.1', '::1'],
    });
  });

  describe('over time, with 45 s serving certificates, a 90 s CA and a pass every 5 s', () => {
    // Simulates the shell: each pass observes the webhook configuration, decides, writes, and patches the
    // caBundle. Checks the invariant on every pass: the API server trusts every certificate a replica may
    // serve, and no replica can be serving an expired one.
    it('never serves anything the API server does not trust, and rotates both kinds', async function () {
      this.timeout(60_000);
      const step = 5 * SECOND;
      const settings: RotationSettings = { ...NAMES, promotionDelayMs: step };
      let data: SecretData | undefined;
      let apiServerBundle: string[] = [];
      let trust: { fingerprint: string; since: number } | undefined;
      // What replicas may serve: the pair in the Secret and, for one more interval, the one before.
      let previousServing: string | undefined;
      const rotations = { ca: 0, serving: 0 };

      for (let now = NOW; now <= NOW + 400 * SECOND; now += step) {
        const current = fingerprints(data?.[SECRET_KEYS.caCert])[0];
        if (current === undefined || !apiServerBundle.includes(current)) trust = undefined;
        else if (trust?.fingerprint !== current) trust = { fingerprint: current, since: now };

        const decision = decide(
          {
            data,
            now,
            caTrustedSince: trust !== undefined && trust.fingerprint === current ? trust.since : undefined,
          },
          settings,
        );
        const before = data;
        if (decision.kind === 'write') {
          const applied = await applyPlan(data, decision.plan, {
            createCa: () => createCertificateAuthority({ validitySeconds: 90, now: new Date(now) }),
            issueServing: (signer) =>
              issueServingCertificate(signer, { ...NAMES, validitySeconds: 45, now: new Date(now) }),
          });
          data = applied.data;
          if (applied.ca !== undefined) rotations.ca += 1;
          if (applied.serving !== undefined) rotations.serving += 1;
        }
        const served = data?.[SECRET_KEYS.servingCert] ?? '';
        const servedCert = new X509Certificate(served);
        // Valid now and still when the slowest replica picks up the next one, an interval later.
        expect(Date.parse(servedCert.validTo), `at +${(now - NOW) / SECOND}s`).to.be.above(now + step);

        if (before !== undefined) {
          // Trusted by the bundle the API server had before this pass patched anything.
          for (const pemText of [served, before[SECRET_KEYS.servingCert] ?? '']) {
            const cert = new X509Certificate(pemText);
            const issuer = issuerOf({ ...(data ?? {}), [SECRET_KEYS.servingCert]: pemText });
            expect(issuer, `issuer at +${(now - NOW) / SECOND}s`).to.be.a('string');
            expect(apiServerBundle, `${cert.serialNumber} at +${(now - NOW) / SECOND}s`).to.include(issuer);
          }
          if (previousServing !== undefined && previousServing !== served) {
            const issuer = issuerOf({ ...(data ?? {}), [SECRET_KEYS.servingCert]: previousServing });
            const stillValid = Date.parse(new X509Certificate(previousServing).validTo) > now;
            if (stillValid) expect(issuer, 'a replica still serving the previous pair').to.be.a('string');
          }
        }
        previousServing = before?.[SECRET_KEYS.servingCert];

        // The pass ends with the caBundle patch; the API server has it from the next pass on.
        const patched = fingerprints(data?.[SECRET_KEYS.caBundle]);
        if (patched.join() !== apiServerBundle.join()) {
          apiServerBundle = patched;
          const fp = fingerprints(data?.[SECRET_KEYS.caCert])[0];
          if (fp !== undefined && trust?.fingerprint !== fp) trust = { fingerprint: fp, since: now };
        }
        expect(apiServerBundle.length, 'bundle size').to.be.at.most(2);
      }
      expect(rotations.ca, 'CA rotations').to.be.at.least(4);
      expect(rotations.serving, 'serving rotations').to.be.at.least(12);
    });
  });
});
