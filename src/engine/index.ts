/**
 * pod-hardener's engine: everything that decides and records the hardening of a pod, with no I/O. The
 * webhook (src/http, src/serve.ts) and the offline CLI import it from here and from nowhere else under
 * src/engine/. It loads none of express, winston, prom-client, the Kubernetes client, node:fs or node:net
 * (the lint rule in eslint.config.js and test/engine/boundary.test.ts hold it to that).
 *
 * Layers, each importing only from those after it:
 *   review → audit → harden → resolve → pod-security → record → controls → pod
 */
export {
  parseAdmissionReview,
  wrapResponse,
  type AdmissionRequest,
  type AdmissionResponse,
  type AdmissionReview,
  type AdmissionReviewResponse,
  type GroupVersionKind,
  type GroupVersionResource,
  type ParsedReview,
} from './review/envelope.js';
export {
  reviewAdmission,
  type RefusedSkip,
  type ReviewDeps,
  type ReviewOutcomeKind,
  type ReviewResult,
  type ReviewHardening,
  type SkipReason,
} from './review/review.js';
export { harden, type HardenOptions, type HardenResult } from './harden/harden.js';
export {
  DEFAULT_ENGINE_SETTINGS,
  MODES,
  isMode,
  type DefaultQuantity,
  type EngineSettings,
  type ImageProfile,
  type Mode,
  type ResourceDefaults,
} from './resolve/settings.js';
export {
  LOOKUPS_OFF,
  type NamespaceInfo,
  type NamespaceLookup,
  type NamespaceSource,
} from './resolve/namespace.js';
export { keysFor, type Keys } from './resolve/keys.js';
export { profileForImage, resolvePolicy, type ResolvedPolicy } from './resolve/resolve.js';
export { imageGlobProblem, matchesImageGlob } from './resolve/image-glob.js';
export { unsafeWritablePath } from './resolve/writable-paths.js';
export { normaliseMountPath } from './pod/mount-path.js';
export { MAX_WRITABLE_PATHS } from './pod/limits.js';
export {
  MAX_SEAL_AGE_SECONDS,
  createRecordSealer,
  randomSealKeys,
  type RecordSealer,
  type SealKeys,
} from './record/seal.js';
export { checkRestricted, type Violation } from './pod-security/restricted.js';
export { parseChangesRecord, type ChangesRecord, type RecordEntry } from './record/changes.js';
export { visitContainers } from './controls/visitor.js';
export { CONTROL_IDS, isControlId, type ControlId } from './controls/ids.js';
export type { Change, Skip } from './controls/types.js';
export { compareQuantities, parseQuantity, type Quantity } from './pod/quantity.js';
export { isJsonObject, type JsonObject } from './pod/json.js';
export type { Container, Pod } from './pod/model.js';
export { claimsMirrorPod } from './pod/model.js';
