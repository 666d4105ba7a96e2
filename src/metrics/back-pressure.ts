import { Counter, Gauge, type Registry } from 'prom-client';

export interface BackPressureMetrics {
  /** Admission requests refused by back-pressure before any review, by reason. */
  readonly rejectedRequests: Counter<'reason'>;
  /** Request body bytes currently admitted (declared or received) and not yet answered. */
  readonly inFlightRequestBytes: Gauge;
}

export function createBackPressureMetrics(registry: Registry): BackPressureMetrics {
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
  rejectedRequests.inc({ reason: 'in_flight_bytes' }, 0);
  rejectedRequests.inc({ reason: 'review_wait' }, 0);

  return { rejectedRequests, inFlightRequestBytes };
}
