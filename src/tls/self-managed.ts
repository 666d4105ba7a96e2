/**
 * Self-managed TLS, the I/O shell around ./rotation.ts: reads and writes the Secret, writes the serving
 * pair to files for the server, and keeps the webhook configuration's caBundle in step. Every decision
 * is made by `decide`; this file only carries them out.
 *
 * API calls, all by name: Secrets get, create and update in `namespace`; the MutatingWebhookConfiguration
 * get and patch. No list or watch.
 */
import { X509Certificate } from 'node:crypto';
import {
  AdmissionregistrationV1Api,
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1MutatingWebhookConfiguration,
  type V1Secret,
} from '@kubernetes/client-node';
import type { Metrics } from '../metrics/index.js';
import type { Logger } from '../logger.js';
import { backoffDelayMs } from '../k8s/backoff.js';
import { abortable } from '../k8s/client.js';
import { describeError, httpStatusOf, withTimeout } from '../k8s/requests.js';
import { certificateDirectory } from './cert-dir.js';
import {
  SECRET_KEYS,
  applyPlan,
  decide,
  fingerprints,
  notAfterMs,
  servingPair,
  type AppliedPlan,
  type CertificateIssuer,
  type RotationPlan,
  type RotationSettings,
  type SecretData,
} from './rotation.js';
import { createCertificateAuthority, issueServingCertificate } from './self-signed.js';

export const SECRET_LABELS: Readonly<Record<string, string>> = {
  'app.kubernetes.io/name': 'pod-hardener',
  'app.kubernetes.io/managed-by': 'pod-hardener',
};
export const SECRET_TYPE = 'kubernetes.io/tls';
/** How long start-up keeps retrying before giving up (the Deployment then restarts the container). */
export const START_TIMEOUT_MS = 30_000;
const REQUEST_TIMEOUT_MS = 10_000;
/** The API server's webhook configuration watch is fast, but give it this long at the least. */
const MIN_PROMOTION_DELAY_MS = 5_000;

export interface SelfManagedTlsOptions {
  readonly kubeConfig: KubeConfig;
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
  readonly metrics: Metrics;
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

function decodeData(secret: V1Secret | undefined): SecretData | undefined {
  if (secret === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(secret.data ?? {})) {
    out[key] = Buffer.from(value, 'base64').toString('utf8');
  }
  return out;
}

function encodeData(data: SecretData): Record<string, string> {
  return Object.fromEntries(
    Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('base64')]),
  );
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
  const core = options.kubeConfig.makeApiClient(CoreV1Api);
  const admission = options.kubeConfig.makeApiClient(AdmissionregistrationV1Api);
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
  /** Since when every webhook is known to trust the CA with this fingerprint (in memory only). */
  let trust: { fingerprint: string; since: number } | undefined;
  let lastWaiting: string | undefined;

  const call = <T>(run: (signal: AbortSignal) => Promise<T>): Promise<T> =>
    withTimeout(REQUEST_TIMEOUT_MS, run, lifetime.signal);

  async function readSecret(): Promise<V1Secret | undefined> {
    try {
      return await call((signal) =>
        core.readNamespacedSecret({ name: secretName, namespace }, abortable(signal)),
      );
    } catch (err) {
      if (httpStatusOf(err) === 404) return undefined;
      throw err;
    }
  }

  /** Creates or updates the Secret; on a conflict another replica won, and its Secret is returned. */
  async function storeSecret(
    existing: V1Secret | undefined,
    data: SecretData,
  ): Promise<{ secret: V1Secret; won: boolean }> {
    try {
      if (existing === undefined) {
        const body: V1Secret = {
          apiVersion: 'v1',
          kind: 'Secret',
          type: SECRET_TYPE,
          metadata: { name: secretName, namespace, labels: { ...SECRET_LABELS } },
          data: encodeData(data),
        };
        return {
          secret: await call((s) => core.createNamespacedSecret({ namespace, body }, abortable(s))),
          won: true,
        };
      }
      // The object read in this pass, changed in place: everything else in it (annotations, other data
      // keys, type) is kept, and its metadata.resourceVersion makes the update fail with 409 if anyone
      // wrote since.
      const body = existing;
      body.metadata = body.metadata ?? {};
      body.metadata.labels = { ...body.metadata.labels, ...SECRET_LABELS };
      body.data = { ...body.data, ...encodeData(data) };
      return {
        secret: await call((s) =>
          core.replaceNamespacedSecret({ name: secretName, namespace, body }, abortable(s)),
        ),
        won: true,
      };
    } catch (err) {
      if (httpStatusOf(err) !== 409) throw err;
      logger.info('another replica wrote the TLS Secret first; using its certificates', {
        secret: secretRef,
      });
      const theirs = await readSecret();
      if (theirs === undefined) throw new Error(`the Secret ${secretRef} disappeared after a write conflict`);
      return { secret: theirs, won: false };
    }
  }

  async function readWebhookConfiguration(): Promise<V1MutatingWebhookConfiguration | undefined> {
    try {
      return await call((signal) =>
        admission.readMutatingWebhookConfiguration({ name: webhookConfigurationName }, abortable(signal)),
      );
    } catch (err) {
      metrics.tlsCaBundleSyncs.inc({ result: 'failure' });
      logger.error('cannot read the webhook configuration; its caBundle is not checked this time', {
        webhookConfiguration: webhookConfigurationName,
        reason: describeError(err),
      });
      return undefined;
    }
  }

  function currentCaFingerprint(data: SecretData | undefined): string | undefined {
    return fingerprints(data?.[SECRET_KEYS.caCert])[0];
  }

  function trustsCa(config: V1MutatingWebhookConfiguration, fingerprint: string): boolean {
    const webhooks = config.webhooks ?? [];
    return (
      webhooks.length > 0 &&
      webhooks.every((w) =>
        fingerprints(Buffer.from(w.clientConfig.caBundle ?? '', 'base64').toString('utf8')).includes(
          fingerprint,
        ),
      )
    );
  }

  function observeTrust(
    config: V1MutatingWebhookConfiguration | undefined,
    data: SecretData | undefined,
  ): void {
    const fingerprint = currentCaFingerprint(data);
    if (config === undefined || fingerprint === undefined || !trustsCa(config, fingerprint)) {
      trust = undefined;
    } else if (trust?.fingerprint !== fingerprint) {
      trust = { fingerprint, since: Date.now() };
    }
  }

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

  async function syncCaBundle(
    config: V1MutatingWebhookConfiguration | undefined,
    data: SecretData | undefined,
  ): Promise<void> {
    const bundle = data?.[SECRET_KEYS.caBundle];
    if (config === undefined || bundle === undefined || bundle === '') return;
    const desired = Buffer.from(bundle, 'utf8').toString('base64');
    const webhooks = config.webhooks ?? [];
    if (webhooks.length === 0) {
      metrics.tlsCaBundleSyncs.inc({ result: 'failure' });
      logger.error('the webhook configuration has no webhooks; nothing to put the caBundle in', {
        webhookConfiguration: webhookConfigurationName,
      });
      return;
    }
    // A test of each webhook's name first, so a concurrent reorder fails the patch instead of writing the
    // wrong entry. `add` sets the member whether or not it exists yet.
    const stale = webhooks.flatMap((w, i) => (w.clientConfig.caBundle === desired ? [] : [{ w, i }]));
    if (stale.length === 0) return;
    const ops = stale.flatMap(({ w, i }) => [
      { op: 'test', path: `/webhooks/${i}/name`, value: w.name },
      { op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: desired },
    ]);
    try {
      await call((signal) =>
        admission.patchMutatingWebhookConfiguration(
          { name: webhookConfigurationName, body: ops },
          setHeaderOptions('Content-Type', PatchStrategy.JsonPatch, abortable(signal)),
        ),
      );
    } catch (err) {
      metrics.tlsCaBundleSyncs.inc({ result: 'failure' });
      logger.error('patching the caBundle of the webhook configuration failed; retrying next pass', {
        webhookConfiguration: webhookConfigurationName,
        reason: describeError(err),
      });
      return;
    }
    metrics.tlsCaBundleSyncs.inc({ result: 'success' });
    const fingerprint = currentCaFingerprint(data);
    if (fingerprint !== undefined && trust?.fingerprint !== fingerprint) {
      trust = { fingerprint, since: Date.now() };
    }
    logger.info('patched the caBundle of the webhook configuration', {
      webhookConfiguration: webhookConfigurationName,
      webhooks: stale.map(({ w }) => w.name),
      caBundle: fingerprints(bundle),
    });
  }

  async function pass(): Promise<void> {
    let secret = await readSecret();
    let data = decodeData(secret);
    const config = await readWebhookConfiguration();
    observeTrust(config, data);
    const fingerprint = currentCaFingerprint(data);
    const decision = decide(
      {
        data,
        now: Date.now(),
        caTrustedSince: trust !== undefined && trust.fingerprint === fingerprint ? trust.since : undefined,
      },
      settings,
    );
    if (decision.waiting !== lastWaiting && decision.waiting !== undefined) {
      logger.info('TLS rotation waiting', { secret: secretRef, reason: decision.waiting });
    }
    lastWaiting = decision.waiting;
    if (decision.kind === 'write') {
      const applied = await applyPlan(data, decision.plan, issuer);
      const stored = await storeSecret(secret, applied.data);
      if (stored.won) logRotation(decision.plan, data, applied);
      secret = stored.secret;
      data = decodeData(secret);
    }
    await syncFiles(data);
    await syncCaBundle(config, data);
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
    },
  };
}
