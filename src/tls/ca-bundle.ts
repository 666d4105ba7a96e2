/**
 * The caBundle of the MutatingWebhookConfiguration, read and patched by name (get, patch; no list or
 * watch), and since when every webhook in it is known to trust the current CA (in memory only).
 */
import type { V1MutatingWebhookConfiguration } from '@kubernetes/client-node';
import type { Logger } from '../logger.js';
import type { TlsMetrics } from '../metrics/index.js';
import type { KubeClient } from '../k8s/http.js';
import { describeError, type ApiCall } from '../k8s/requests.js';
import { fingerprints } from './certificates.js';
import { SECRET_KEYS, type SecretData } from './rotation.js';

export interface CaBundleSyncOptions {
  readonly client: KubeClient;
  readonly webhookConfigurationName: string;
  readonly call: ApiCall;
  readonly logger: Logger;
  readonly metrics: TlsMetrics;
}

export interface CaBundleSync {
  /** The webhook configuration; undefined (counted and logged) when it cannot be read. */
  read(): Promise<V1MutatingWebhookConfiguration | undefined>;
  /** Notes whether the configuration as read trusts the Secret's current CA, and since when. */
  observeTrust(config: V1MutatingWebhookConfiguration | undefined, data: SecretData | undefined): void;
  /** Since when every webhook is known to trust the Secret's current CA; undefined when not known. */
  caTrustedSince(data: SecretData | undefined): number | undefined;
  /** Patches every webhook whose caBundle is not the Secret's; failures are counted and logged only. */
  sync(config: V1MutatingWebhookConfiguration | undefined, data: SecretData | undefined): Promise<void>;
}

export function createCaBundleSync(options: CaBundleSyncOptions): CaBundleSync {
  const { call, logger, metrics, webhookConfigurationName } = options;
  const { client } = options;
  const path = `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${encodeURIComponent(webhookConfigurationName)}`;
  /** Since when every webhook is known to trust the CA with this fingerprint (in memory only). */
  let trust: { fingerprint: string; since: number } | undefined;

  async function readWebhookConfiguration(): Promise<V1MutatingWebhookConfiguration | undefined> {
    try {
      return await call((signal) => client.request<V1MutatingWebhookConfiguration>({ path, signal }));
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
        client.request({
          method: 'PATCH',
          path,
          body: ops,
          contentType: 'application/json-patch+json',
          signal,
        }),
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

  return {
    read: readWebhookConfiguration,
    observeTrust,
    caTrustedSince(data) {
      const fingerprint = currentCaFingerprint(data);
      return trust !== undefined && trust.fingerprint === fingerprint ? trust.since : undefined;
    },
    sync: syncCaBundle,
  };
}
