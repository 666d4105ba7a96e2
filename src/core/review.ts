import type { AdmissionRequest, AdmissionResponse, AdmissionReview } from './admission.js';
import type { NamespaceSource } from './namespaces.js';
import type { EngineSettings, Mode } from './settings.js';
import type { ControlId } from '../controls/ids.js';
import { isHostProcessPod, isMirrorPod, type Pod } from '../k8s/pod.js';
import { podShapeProblem } from '../k8s/pod-shape.js';
import { isJsonObject } from '../util/json.js';
import { decideNamespace, resolvePolicy } from '../policy/resolve.js';
import { auditAnnotations, boundWarnings, violationWarnings, warning, wouldChangeWarnings } from './audit.js';
import { harden, newEphemeralContainers } from './harden.js';

export type ReviewOutcomeKind = 'patched' | 'unchanged' | 'skipped' | 'warned' | 'audited';

/** Fixed set, so it can be a metric label. */
export type SkipReason =
  | 'not-a-pod'
  | 'operation'
  | 'namespace-not-opted-in'
  | 'mirror-pod'
  | 'windows-host-process'
  | 'pod-opt-out'
  | 'no-new-ephemeral-containers';

export interface ReviewResult {
  readonly response: AdmissionResponse;
  readonly outcome: ReviewOutcomeKind;
  readonly skipReason?: SkipReason;
  readonly mode?: Mode;
  /** Number of field-level changes made (enforce) or that would be made (warn, audit), by control. */
  readonly changesByControl: Readonly<Partial<Record<ControlId, number>>>;
  /** Pod Security "restricted" checks still failing after hardening, one entry per failing check. */
  readonly residualViolations: readonly string[];
  /** Fields for the one structured log line per review (never whole objects). */
  readonly logFields: Readonly<Record<string, unknown>>;
}

export interface ReviewDeps {
  readonly settings: EngineSettings;
  readonly namespaces: NamespaceSource;
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

function podName(pod: Pod | undefined, request: AdmissionRequest): string | undefined {
  return pod?.metadata?.name ?? request.name ?? pod?.metadata?.generateName;
}

/**
 * Decides what to do with one AdmissionReview and answers it. Always allows: pod-hardener mutates, it
 * never blocks; refusing is left to Pod Security admission.
 */
export async function reviewAdmission(review: AdmissionReview, deps: ReviewDeps): Promise<ReviewResult> {
  const request = review.request;
  const object: unknown = request.object;
  const pod = object === undefined || object === null ? undefined : (object as Pod);
  const namespace = request.namespace ?? pod?.metadata?.namespace ?? '';
  const logFields: Record<string, unknown> = {
    uid: request.uid,
    namespace,
    name: podName(pod, request),
    operation: request.operation,
    subResource: request.subResource,
    dryRun: request.dryRun === true,
  };
  const skip = (reason: SkipReason, detail?: string): ReviewResult => ({
    response: { uid: request.uid, allowed: true },
    outcome: 'skipped',
    skipReason: reason,
    changesByControl: {},
    residualViolations: [],
    logFields: { ...logFields, skipped: reason, ...(detail ? { detail } : {}) },
  });

  if (request.kind.kind !== 'Pod' || (request.kind.group ?? '') !== '' || pod === undefined)
    return skip('not-a-pod');
  const isCreate = request.operation === 'CREATE' && (request.subResource ?? '') === '';
  const isEphemeral = request.operation === 'UPDATE' && request.subResource === 'ephemeralcontainers';
  if (!isCreate && !isEphemeral) return skip('operation');
  const oldPod = isEphemeral ? ((request.oldObject ?? { spec: { containers: [] } }) as Pod) : undefined;
  if (oldPod && newEphemeralContainers(pod, oldPod).length === 0) return skip('no-new-ephemeral-containers');
  if (isMirrorPod(pod)) return skip('mirror-pod');
  if (isHostProcessPod(pod)) return skip('windows-host-process');

  const lookup = await deps.namespaces.lookup(namespace);
  const decision = decideNamespace(lookup, namespace, deps.settings);
  const lookupFailure = lookup.kind === 'failed' ? lookup.reason : undefined;
  if (lookupFailure !== undefined) logFields.namespaceLookupFailure = lookupFailure;
  if (!decision.optedIn) return skip('namespace-not-opted-in');

  const resolution = resolvePolicy(deps.settings, decision, pod);
  if (resolution.skipPod) return skip('pod-opt-out', resolution.optOuts.join(','));
  const { policy } = resolution;
  const result = harden(pod, policy, oldPod ? { oldPod } : {});

  const mode = policy.mode;
  const patched = result.patch.length > 0;
  const outcome: ReviewOutcomeKind =
    mode === 'warn' ? 'warned' : mode === 'audit' ? 'audited' : patched ? 'patched' : 'unchanged';

  const response: AdmissionResponse = { uid: request.uid, allowed: true };
  if (patched) {
    response.patchType = 'JSONPatch';
    response.patch = Buffer.from(JSON.stringify(result.patch)).toString('base64');
  }
  if (mode !== 'audit') {
    const warnings = [
      ...policy.warnings.map(warning),
      ...(mode === 'warn' ? wouldChangeWarnings(result.changes) : []),
      ...violationWarnings(result.violations),
    ];
    if (warnings.length > 0) response.warnings = boundWarnings(warnings);
  }
  const changesByControl: Partial<Record<ControlId, number>> = {};
  for (const change of result.changes)
    changesByControl[change.control] = (changesByControl[change.control] ?? 0) + 1;
  response.auditAnnotations = auditAnnotations({
    mode,
    changes: result.changes.length,
    changesByControl,
    violations: result.violations,
    optOuts: policy.optOuts,
    patched,
    laterPass: isCreate && (policy.earlierChanges.entries.length > 0 || policy.earlierChanges.truncated > 0),
  });

  return {
    response,
    outcome,
    mode,
    changesByControl,
    residualViolations: result.violations.map((v) => v.check),
    logFields: {
      ...logFields,
      mode,
      controls: Object.keys(changesByControl),
      changes: result.changes.length,
      // Every residual violation and every deliberate skip, so the log holds what bounded warnings and
      // audit annotations may have cut.
      violations: [...new Set(result.violations.map((v) => `${v.check}:${v.target}`))],
      skips: result.skipped.map((k) => `${k.control}:${k.target}: ${k.reason}`),
      optOuts: policy.optOuts,
      containers: result.containersInScope,
    },
  };
}
