/**
 * Self-managed TLS, the I/O shell around ./rotation.ts: a pass every interval reads the Secret
 * (./secret-store.ts) and the webhook configuration (./ca-bundle.ts), writes what `decide` asks for,
 * writes the serving pair to files for the server, and keeps the caBundle in step. Every decision is
 * made by `decide`; this file only carries them out.
 */
import { X509Certificate } from 'node:crypto';
import type { TlsMetrics } from '../metrics/index.js';
import type { Logger } from '../logger.js';
import { backoffDelayMs } from '../k8s/backoff.js';
import { createKubeClient } from '../k8s/http.js';
import type { KubeAccess } from '../k8s/kubeconfig.js';
import { describeError, withTimeout, type ApiCall } from '../k8s/requests.js';
import { applyPlan, type AppliedPlan, type CertificateIssuer } from './apply-plan.js';
import { createCaBundleSync } from './ca-bundle.js';
import { certificateDirectory } from './cert-dir.js';
import { fingerprints, notAfterMs } from './certificates.js';
import {
  SECRET_KEYS,
  decide,
  servingPair,
  type RotationPlan,
  type RotationSettings,
  type SecretData,
} from './rotation.js';
import { createSecretStore, decodeData } from './secret-store.js';
import { createCertificateAuthority, issueServingCertificate } from './self-signed.js';

/** How long start-up keeps retrying before giving up (the Deployment then restarts the container). */
export const START_TIMEOUT_MS = 30_000;
const REQUEST_TIMEOUT_MS = 10_000;
/** The API server's webhook configuration watch is fast, but give it this long at the least. */
const MIN_PROMOTION_DELAY_MS = 5_000;

export interface SelfManagedTlsOptions {
  /** The API server and credentials; the client made from them is closed by stop(). */
  readonly access: KubeAccess;
  readonly namespace: string;
  readonly secretName: string;
  readonly webhookConfigurationName: string;
  /** Where tls.crt and tls.key are written. */
  readonly certDir: string;
  /** The serving certificate's names; the first DNS name is also its common name. */
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  readonly servingValiditySeconds: number;
  readonly caValiditySeconds: number;
  /** Seconds between passes; also the least time a new CA is trusted before it signs. */
  readonly intervalSeconds: number;
  readonly logger: Logger;
  readonly metrics: TlsMetrics;
  /** Default START_TIMEOUT_MS. */
  readonly startTimeoutMs?: number;
}

export interface SelfManagedTls {
  readonly certFile: string;
  readonly keyFile: string;
  /** One pass now. Rejects when the Secret or the files could not be synced; caBundle problems only log. */
  syncNow(): Promise<void>;
  /** A pass every interval until stop(); `onFilesWritten` runs after each change of the files. */
  startLoop(onFilesWritten?: () => Promise<unknown>): void;
  /** Ends the loop and aborts requests in flight. Idempotent. */
  stop(): void;
}

function describeCertificate(pem: string): Record<string, string> {
  try {
    const cert = new X509Certificate(pem);
    return {
      serialNumber: cert.serialNumber,
      fingerprint256: cert.fingerprint256,
      notAfter: new Date(notAfterMs(cert)).toISOString(),
    };
  } catch {
    return {};
  }
}

/**
 * Obtains the CA and serving certificate (creating them if needed) and writes the files, retrying with
 * backoff for up to `startTimeoutMs`; rejects with a message naming the Secret after that.
 */
export async function startSelfManagedTls(options: SelfManagedTlsOptions): Promise<SelfManagedTls> {
  const tls = createSelfManagedTls(options);
  const { logger, metrics, namespace, secretName } = options;
  const timeoutMs = options.startTimeoutMs ?? START_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      await tls.syncNow();
      return tls;
    } catch (err) {
      metrics.tlsSecretSyncFailures.inc();
      const waitMs = Math.min(backoffDelayMs(attempt, 500, 5_000), deadline - Date.now());
      if (waitMs <= 0) {
        tls.stop();
        throw new Error(
          `could not obtain the TLS Secret ${namespace}/${secretName} within ${Math.round(timeoutMs / 1000)}s: ` +
            describeError(err),
        );
      }
      logger.warn('TLS Secret sync failed at start; retrying', {
        secret: `${namespace}/${secretName}`,
        reason: describeError(err),
        retryInMs: waitMs,
      });
      await new Promise((resolve) => setTimeout(resolve, waitMs));
    }
  }
}

export function createSelfManagedTls(options: SelfManagedTlsOptions): SelfManagedTls {
  const { logger, metrics, namespace, secretName, webhookConfigurationName } = options;
  const files = certificateDirectory(options.certDir);
  const intervalMs = options.intervalSeconds * 1000;
  const settings: RotationSettings = {
    dnsNames: options.dnsNames,
    ipAddresses: options.ipAddresses,
    promotionDelayMs: Math.max(intervalMs, MIN_PROMOTION_DELAY_MS),
  };
  const issuer: CertificateIssuer = {
    createCa: () =>
      createCertificateAuthority({
        commonName: `pod-hardener CA ${new Date().toISOString()}`,
        validitySeconds: options.caValiditySeconds,
      }),
    issueServing: (ca) =>
      issueServingCertificate(ca, {
        dnsNames: options.dnsNames,
        ipAddresses: options.ipAddresses,
        validitySeconds: options.servingValiditySeconds,
      }),
  };
  const secretRef = `${namespace}/${secretName}`;

  const lifetime = new AbortController();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let onFilesWritten: (() => Promise<unknown>) | undefined;
  /** The pair last written to the files. */
  let written: string | undefined;
  let lastWaiting: string | undefined;

  const call: ApiCall = (run) => withTimeout(REQUEST_TIMEOUT_MS, run, lifetime.signal);
  const client = createKubeClient(options.access);
  const secrets = createSecretStore({ client, namespace, secretName, call, logger });
  const caBundle = createCaBundleSync({
    client,
    webhookConfigurationName,
    call,
    logger,
    metrics,
  });

  function logRotation(plan: RotationPlan, before: SecretData | undefined, applied: AppliedPlan): void {
    if (applied.ca !== undefined && plan.newCa !== undefined) {
      metrics.tlsRotations.inc({ kind: 'ca' });
      logger.info('TLS certificate rotated', {
        kind: 'ca',
        reason: plan.newCa.reason,
        secret: secretRef,
        ...describeCertificate(applied.ca.certPem),
        caBundle: fingerprints(applied.data[SECRET_KEYS.caBundle]),
      });
    }
    if (applied.serving !== undefined && plan.issueServing !== undefined) {
      const signer =
        plan.issueServing.signer === 'new-ca' ? applied.ca?.certPem : before?.[SECRET_KEYS.caCert];
      metrics.tlsRotations.inc({ kind: 'serving' });
      logger.info('TLS certificate rotated', {
        kind: 'serving',
        reason: plan.issueServing.reason,
        secret: secretRef,
        ...describeCertificate(applied.serving.certPem),
        issuerFingerprint256: fingerprints(signer)[0],
      });
    }
  }

  async function syncFiles(data: SecretData | undefined): Promise<void> {
    const pair = servingPair(data);
    if (pair === undefined) {
      throw new Error(`the Secret ${secretRef} holds no usable serving certificate and key`);
    }
    const digest = `${pair.certPem}\0${pair.keyPem}`;
    if (digest === written) return;
    await files.write(pair);
    written = digest;
    logger.info('serving certificate written', {
      dir: files.dir,
      ...describeCertificate(pair.certPem),
    });
    try {
      await onFilesWritten?.();
    } catch (err) {
      logger.warn('reloading the written certificate failed; the file poll will retry', {
        reason: describeError(err),
      });
    }
  }

  async function pass(): Promise<void> {
    let secret = await secrets.read();
    let data = decodeData(secret);
    const config = await caBundle.read();
    caBundle.observeTrust(config, data);
    const decision = decide(
      { data, now: Date.now(), caTrustedSince: caBundle.caTrustedSince(data) },
      settings,
    );
    if (decision.waiting !== lastWaiting && decision.waiting !== undefined) {
      logger.info('TLS rotation waiting', { secret: secretRef, reason: decision.waiting });
    }
    lastWaiting = decision.waiting;
    if (decision.kind === 'write') {
      const applied = await applyPlan(data, decision.plan, issuer);
      const stored = await secrets.store(secret, applied.data);
      if (stored.won) logRotation(decision.plan, data, applied);
      secret = stored.secret;
      data = decodeData(secret);
    }
    await syncFiles(data);
    await caBundle.sync(config, data);
  }

  // One pass at a time: the loop and syncNow() must not interleave.
  let queue: Promise<unknown> = Promise.resolve();
  function serialized(): Promise<void> {
    const run = queue.then(() => {
      if (stopped) throw new Error('self-managed TLS stopped');
      return pass();
    });
    queue = run.catch(() => undefined);
    return run;
  }

  function schedule(): void {
    if (stopped) return;
    // Scheduled after a pass ends, so a pass never starts less than an interval after the previous patch.
    timer = setTimeout(() => {
      void serialized()
        .then(
          () => undefined,
          (err: unknown) => {
            if (stopped) return;
            metrics.tlsSecretSyncFailures.inc();
            logger.error('TLS sync failed; still serving the current certificate, retrying next pass', {
              secret: secretRef,
              reason: describeError(err),
            });
          },
        )
        .finally(schedule);
    }, intervalMs);
    timer.unref();
  }

  return {
    certFile: files.certFile,
    keyFile: files.keyFile,
    syncNow: serialized,
    startLoop(callback) {
      onFilesWritten = callback;
      if (timer === undefined) schedule();
    },
    stop() {
      if (stopped) return;
      stopped = true;
      clearTimeout(timer);
      lifetime.abort(new Error('self-managed TLS stopped'));
      client.close();
    },
  };
}
