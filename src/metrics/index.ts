import { Registry, collectDefaultMetrics } from 'prom-client';
import { createBackPressureMetrics, type BackPressureMetrics } from './back-pressure.js';
import { createNamespaceMetrics, type NamespaceMetrics } from './namespaces.js';
import { createReviewMetrics, type ReviewMetrics } from './review.js';
import { createTlsMetrics, type TlsMetrics } from './tls.js';

export type { BackPressureMetrics } from './back-pressure.js';
export type { NamespaceMetrics } from './namespaces.js';
export {
  operationLabel,
  type OperationLabel,
  type ReviewMetrics,
  type ReviewOutcomeLabel,
} from './review.js';
export type { TlsMetrics } from './tls.js';

/** Every series the webhook exports, in one Registry. */
export interface Metrics extends ReviewMetrics, NamespaceMetrics, TlsMetrics, BackPressureMetrics {
  readonly registry: Registry;
}

export interface MetricsOptions {
  /** Process metrics (CPU, memory, event loop, GC); on unless a test has no use for them. */
  readonly defaultMetrics?: boolean;
}

/** Every call builds its own Registry, never the prom-client global, so tests can build several apps. */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  // Registration order is the order of the /metrics output: review, namespace, TLS, back-pressure series.
  return {
    registry,
    ...createReviewMetrics(registry),
    ...createNamespaceMetrics(registry),
    ...createTlsMetrics(registry),
    ...createBackPressureMetrics(registry),
  };
}
