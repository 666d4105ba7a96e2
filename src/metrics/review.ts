import { Counter, Histogram, type Registry } from 'prom-client';
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

export interface ReviewMetrics {
  readonly reviews: Counter<'operation' | 'outcome'>;
  readonly reviewDuration: Histogram<'outcome'>;
  readonly changes: Counter<'control'>;
  readonly skippedReviews: Counter<'reason'>;
  readonly residualViolations: Counter<'check'>;
  readonly refusedSkips: Counter<'reason'>;
  /** Records a review the engine completed. */
  recordReview(operation: OperationLabel, result: ReviewResult, durationSeconds: number): void;
  /** Records a request that never reached the engine, or one where the engine threw. */
  recordFailure(outcome: 'bad_request' | 'error', operation: OperationLabel, durationSeconds: number): void;
}

export function createReviewMetrics(registry: Registry): ReviewMetrics {
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

  return {
    reviews,
    reviewDuration,
    changes,
    skippedReviews,
    residualViolations,
    refusedSkips,
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
