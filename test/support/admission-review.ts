/**
 * The one AdmissionReview builder for unit, golden, property, HTTP, abuse and bench code: a review of
 * `object` as the API server sends it to a mutating webhook, with only the fields a test names beyond
 * the ones every request carries.
 */
import type {
  AdmissionReview,
  GroupVersionKind,
  GroupVersionResource,
} from '../../src/engine/review/envelope.js';

export const POD_KIND: GroupVersionKind = { group: '', version: 'v1', kind: 'Pod' };
export const PODS_RESOURCE: GroupVersionResource = { group: '', version: 'v1', resource: 'pods' };

export interface ReviewOptions {
  readonly uid?: string;
  /** Default CREATE. */
  readonly operation?: string;
  /** Default team-a. */
  readonly namespace?: string;
  readonly name?: string;
  /** Default Pod; pass another kind for a review the webhook must let through. */
  readonly kind?: GroupVersionKind;
  /** Default pods; null leaves it out. */
  readonly resource?: GroupVersionResource | null;
  readonly subResource?: string;
  readonly oldObject?: unknown;
  readonly userInfo?: unknown;
  readonly dryRun?: boolean;
  readonly options?: unknown;
}

export function admissionReview(object: unknown, options: ReviewOptions = {}): AdmissionReview {
  const { uid, operation, namespace, kind, resource, ...rest } = options;
  const optional = Object.fromEntries(Object.entries(rest).filter(([, value]) => value !== undefined));
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: uid ?? 'f0e1d2c3-0000-4000-8000-000000000001',
      kind: kind ?? POD_KIND,
      ...(resource === null ? {} : { resource: resource ?? PODS_RESOURCE }),
      namespace: namespace ?? 'team-a',
      operation: operation ?? 'CREATE',
      object,
      ...optional,
    },
  };
}

/** The UPDATE of the pods/ephemeralcontainers subresource that `kubectl debug` makes. */
export function ephemeralContainersUpdate(
  object: unknown,
  oldObject: unknown,
  options: ReviewOptions = {},
): AdmissionReview {
  return admissionReview(object, {
    operation: 'UPDATE',
    subResource: 'ephemeralcontainers',
    oldObject,
    options: { kind: 'UpdateOptions', apiVersion: 'meta.k8s.io/v1' },
    ...options,
  });
}
