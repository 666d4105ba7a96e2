import { Counter, Gauge, type Registry } from 'prom-client';

export interface TlsMetrics {
  readonly tlsReloads: Counter<'result'>;
  /** Certificates this replica issued and stored in the TLS Secret (self-managed mode). */
  readonly tlsRotations: Counter<'kind'>;
  /** Self-managed TLS passes that failed to read or write the Secret or the certificate files. */
  readonly tlsSecretSyncFailures: Counter;
  /** Reads and patches of the webhook configuration's caBundle (self-managed mode). */
  readonly tlsCaBundleSyncs: Counter<'result'>;
  /** notAfter of the certificate being served, in seconds since the epoch. */
  readonly tlsServingCertificateExpiry: Gauge;
}

export function createTlsMetrics(registry: Registry): TlsMetrics {
  const tlsReloads = new Counter({
    name: 'pod_hardener_tls_reloads_total',
    help: 'Attempts to load a changed serving certificate, by result.',
    labelNames: ['result'] as const,
    registers: [registry],
  });

  const tlsRotations = new Counter({
    name: 'pod_hardener_tls_rotations_total',
    help: 'Certificates this replica issued and stored in the TLS Secret (self-managed TLS), by kind.',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const tlsSecretSyncFailures = new Counter({
    name: 'pod_hardener_tls_secret_sync_failures_total',
    help: 'Self-managed TLS passes that could not read or write the TLS Secret or the certificate files.',
    registers: [registry],
  });
  const tlsCaBundleSyncs = new Counter({
    name: 'pod_hardener_tls_ca_bundle_syncs_total',
    help: 'Webhook configuration caBundle patches (success) and failed reads or patches (failure).',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const tlsServingCertificateExpiry = new Gauge({
    name: 'pod_hardener_tls_serving_certificate_expiry_timestamp_seconds',
    help: 'notAfter of the serving certificate currently served, in seconds since the Unix epoch.',
    registers: [registry],
  });

  // Zero-valued series make "absent" and "never happened" distinguishable in alerts and dashboards.
  tlsReloads.inc({ result: 'success' }, 0);
  tlsReloads.inc({ result: 'failure' }, 0);
  tlsRotations.inc({ kind: 'serving' }, 0);
  tlsRotations.inc({ kind: 'ca' }, 0);
  tlsSecretSyncFailures.inc(0);
  tlsCaBundleSyncs.inc({ result: 'success' }, 0);
  tlsCaBundleSyncs.inc({ result: 'failure' }, 0);

  return {
    tlsReloads,
    tlsRotations,
    tlsSecretSyncFailures,
    tlsCaBundleSyncs,
    tlsServingCertificateExpiry,
  };
}
