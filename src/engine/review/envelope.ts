/**
 * The admission.k8s.io/v1 wire types we read and write. Only v1 is served: the webhook configuration
 * lists `admissionReviewVersions: [v1]`, so the API server never sends v1beta1.
 */
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
