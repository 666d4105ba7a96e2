import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ReviewOutcomeKind, ReviewResult } from '../engine/index.js';

export type ReviewOutcomeLabel = ReviewOutcomeKind | 'bad_request' | 'error';

/** Label for the admission operation; anything else a client invents collapses into "other". */
export type OperationLabel = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT' | 'other' | 'unknown';

const OPERATIONS: ReadonlySet<string> = new Set(['CREATE', 'UPDATE', 'DELETE', 'CONNECT']);

/** Keeps label cardinality bounded whatever the request body says. */
export function operationLabel(operation: unknown): OperationLabel {
  return typeof operation === 'string' && OPERATIONS.has(operation) ? (operation as OperationLabel) : 'other';
}

// Reviews are CPU-only work measured in tens of microseconds; the top buckets catch slow namespace lookups.
const DURATION_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
];

export interface Metrics {
  readonly registry: Registry;
  readonly reviews: Counter<'operation' | 'outcome'>;
  readonly reviewDuration: Histogram<'outcome'>;
  readonly changes: Counter<'control'>;
  readonly skippedReviews: Counter<'reason'>;
  readonly residualViolations: Counter<'check'>;
  readonly refusedSkips: Counter<'reason'>;
  readonly namespaceLookupFailures: Counter;
  readonly namespaceWatchRestarts: Counter;
  readonly tlsReloads: Counter<'result'>;
  /** Certificates this replica issued and stored in the TLS Secret (self-managed mode). */
  readonly tlsRotations: Counter<'kind'>;
  /** Self-managed TLS passes that failed to read or write the Secret or the certificate files. */
  readonly tlsSecretSyncFailures: Counter;
  /** Reads and patches of the webhook configuration's caBundle (self-managed mode). */
  readonly tlsCaBundleSyncs: Counter<'result'>;
  /** notAfter of the certificate being served, in seconds since the epoch. */
  readonly tlsServingCertificateExpiry: Gauge;
  /** Admission requests refused by back-pressure before any review, by reason. */
  readonly rejectedRequests: Counter<'reason'>;
  /** Request body bytes currently admitted (declared or received) and not yet answered. */
  readonly inFlightRequestBytes: Gauge;
  /** Records a review the engine completed. */
  recordReview(operation: OperationLabel, result: ReviewResult, durationSeconds: number): void;
  /** Records a request that never reached the engine, or one where the engine threw. */
  recordFailure(outcome: 'bad_request' | 'error', operation: OperationLabel, durationSeconds: number): void;
}

export interface MetricsOptions {
  /** Process metrics (CPU, memory, event loop, GC); on unless a test has no use for them. */
  readonly defaultMetrics?: boolean;
}

/** Every call builds its own Registry, never the prom-client global, so tests can build several apps. */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });

  const reviews = new Counter({
    name: 'pod_hardener_admission_reviews_total',
    help: 'Admission reviews handled, by operation and outcome.',
    labelNames: ['operation', 'outcome'] as const,
    registers: [registry],
  });
  const reviewDuration = new Histogram({
    name: 'pod_hardener_admission_review_duration_seconds',
    help: 'Time from receiving an admission request to sending the response, by outcome.',
    labelNames: ['outcome'] as const,
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const changes = new Counter({
    name: 'pod_hardener_changes_total',
    help: 'Field-level changes made (enforce) or that would be made (warn, audit), by control.',
    labelNames: ['control'] as const,
    registers: [registry],
  });
  const skippedReviews = new Counter({
    name: 'pod_hardener_skipped_reviews_total',
    help: 'Reviews that left the object alone without evaluating the controls, by reason.',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const residualViolations = new Counter({
    name: 'pod_hardener_residual_violations_total',
    help: 'Pod Security "restricted" checks still failing after hardening, by check.',
    labelNames: ['check'] as const,
    registers: [registry],
  });
  const refusedSkips = new Counter({
    name: 'pod_hardener_refused_skips_total',
    help: 'Skips a pod claimed and did not get (mirror-pod marker not from a node, hostProcess on a non-Windows pod, opt-outs where the namespace forbids them), by reason.',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const namespaceLookupFailures = new Counter({
    name: 'pod_hardener_namespace_lookup_failures_total',
    help: 'Namespace lookups that failed or timed out, so the default mode applied.',
    registers: [registry],
  });
  const namespaceWatchRestarts = new Counter({
    name: 'pod_hardener_namespace_watch_restarts_total',
    help: 'Times the namespace watch failed and was restarted; lookups meanwhile use the cache or a direct GET.',
    registers: [registry],
  });
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

  const rejectedRequests = new Counter({
    name: 'pod_hardener_rejected_requests_total',
    help: 'Admission requests refused before review to protect memory and latency: in_flight_bytes (429, the body budget is full), review_wait (503, the review could not start in time).',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const inFlightRequestBytes = new Gauge({
    name: 'pod_hardener_in_flight_request_bytes',
    help: 'Request body bytes admitted and not yet answered (Content-Length, or bytes received so far).',
    registers: [registry],
  });

  // Zero-valued series make "absent" and "never happened" distinguishable in alerts and dashboards.
  tlsReloads.inc({ result: 'success' }, 0);
  tlsReloads.inc({ result: 'failure' }, 0);
  namespaceLookupFailures.inc(0);
  namespaceWatchRestarts.inc(0);
  tlsRotations.inc({ kind: 'serving' }, 0);
  tlsRotations.inc({ kind: 'ca' }, 0);
  tlsSecretSyncFailures.inc(0);
  tlsCaBundleSyncs.inc({ result: 'success' }, 0);
  tlsCaBundleSyncs.inc({ result: 'failure' }, 0);
  rejectedRequests.inc({ reason: 'in_flight_bytes' }, 0);
  rejectedRequests.inc({ reason: 'review_wait' }, 0);

  return {
    registry,
    reviews,
    reviewDuration,
    changes,
    skippedReviews,
    residualViolations,
    refusedSkips,
    namespaceLookupFailures,
    namespaceWatchRestarts,
    tlsReloads,
    tlsRotations,
    tlsSecretSyncFailures,
    tlsCaBundleSyncs,
    tlsServingCertificateExpiry,
    rejectedRequests,
    inFlightRequestBytes,
    recordReview(operation, result, durationSeconds) {
      reviews.inc({ operation, outcome: result.outcome });
      reviewDuration.observe({ outcome: result.outcome }, durationSeconds);
      if (result.skipReason !== undefined) skippedReviews.inc({ reason: result.skipReason });
      for (const [control, count] of Object.entries(result.changesByControl)) {
        if (count !== undefined && count > 0) changes.inc({ control }, count);
      }
      for (const check of result.residualViolations) residualViolations.inc({ check });
      for (const reason of result.refusedSkips) refusedSkips.inc({ reason });
      // namespaceLookupFailure is deliberately not counted here: the namespace source reports each failed
      // lookup itself, and one failed lookup may be shared by several concurrent reviews.
    },
    recordFailure(outcome, operation, durationSeconds) {
      reviews.inc({ operation, outcome });
      reviewDuration.observe({ outcome }, durationSeconds);
    },
  };
}
