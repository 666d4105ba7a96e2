/**
 * The admission.k8s.io/v1 envelope: its wire types, the check of what arrives and the wrapping of what
 * leaves. Only v1 is served: the webhook configuration lists `admissionReviewVersions: [v1]`, so the API
 * server never sends v1beta1.
 */
import { isJsonObject } from '../pod/json.js';
import { MAX_OBJECT_DEPTH } from '../pod/limits.js';
import { exceedsDepth, podShapeProblem } from '../pod/shape.js';

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export interface GroupVersionResource {
  group: string;
  version: string;
  resource: string;
}

export interface AdmissionRequest {
  uid: string;
  kind: GroupVersionKind;
  resource?: GroupVersionResource;
  subResource?: string;
  name?: string;
  namespace?: string;
  operation: string;
  dryRun?: boolean;
  /** Raw JSON exactly as the API server sent it; never reshaped by a client-library serializer. */
  object?: unknown;
  oldObject?: unknown;
  userInfo?: unknown;
  options?: unknown;
}

export interface AdmissionReview {
  apiVersion: 'admission.k8s.io/v1';
  kind: 'AdmissionReview';
  request: AdmissionRequest;
}

export interface AdmissionResponse {
  uid: string;
  /** False only for a pod the webhook cannot afford to review in enforce mode (see engine/pod/limits.ts). */
  allowed: boolean;
  /** With allowed: false, what kubectl shows. */
  status?: { code: number; message: string };
  patchType?: 'JSONPatch';
  /** base64 of the JSON Patch document. */
  patch?: string;
  warnings?: string[];
  auditAnnotations?: Record<string, string>;
}

export interface AdmissionReviewResponse {
  apiVersion: 'admission.k8s.io/v1';
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}

export type ParsedReview = { readonly review: AdmissionReview } | { readonly error: string };

/** Validates the envelope, and the pod inside it when there is one; the message says what is wrong. */
export function parseAdmissionReview(body: unknown): ParsedReview {
  if (!isJsonObject(body)) return { error: 'body must be a JSON object (an AdmissionReview)' };
  if (body.kind !== 'AdmissionReview') return { error: 'kind must be "AdmissionReview"' };
  if (body.apiVersion !== 'admission.k8s.io/v1') {
    return {
      error: `apiVersion ${JSON.stringify(body.apiVersion)} is not served; only admission.k8s.io/v1 is`,
    };
  }
  const request = body.request;
  if (!isJsonObject(request)) return { error: 'request must be an object' };
  if (typeof request.uid !== 'string' || request.uid === '')
    return { error: 'request.uid must be a non-empty string' };
  if (typeof request.operation !== 'string') return { error: 'request.operation must be a string' };
  const kind = request.kind;
  if (!isJsonObject(kind) || typeof kind.kind !== 'string')
    return { error: 'request.kind must be a GroupVersionKind' };
  if (
    kind.kind === 'Pod' &&
    (kind.group ?? '') === '' &&
    request.object !== undefined &&
    request.object !== null
  ) {
    for (const field of ['object', 'oldObject'] as const) {
      if (exceedsDepth(request[field], MAX_OBJECT_DEPTH))
        return { error: `request.${field} is nested more than ${MAX_OBJECT_DEPTH} levels deep; no Pod is` };
    }
    const problem = podShapeProblem(request.object, 'request.object') ?? checkOldObject(request.oldObject);
    if (problem) return { error: problem };
  }
  return { review: body as unknown as AdmissionReview };
}

function checkOldObject(oldObject: unknown): string | undefined {
  return oldObject === undefined || oldObject === null
    ? undefined
    : podShapeProblem(oldObject, 'request.oldObject');
}

/** The envelope the API server expects back around a response. */
export function wrapResponse(response: AdmissionResponse): AdmissionReviewResponse {
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response };
}
