import type { Operation } from 'fast-json-patch';
import type { AdmissionRequest, AdmissionResponse, AdmissionReview } from './envelope.js';
import type { NamespaceSource } from '../resolve/namespace.js';
import type { EngineSettings, Mode } from '../resolve/settings.js';
import type { ControlId } from '../controls/ids.js';
import type { Change, Skip } from '../controls/types.js';
import type { Violation } from '../pod-security/restricted.js';
import { CONTAINER_LISTS, claimsMirrorPod, isHostProcessPod, isWindowsPod, type Pod } from '../pod/model.js';
import { isJsonObject } from '../pod/json.js';
import { decideNamespace } from '../resolve/namespace-decision.js';
import { resolvePolicy } from '../resolve/resolve.js';
import { keysFor, type Keys } from '../resolve/keys.js';
import { auditAnnotations } from '../audit/annotations.js';
import {
  boundWarnings,
  startableWarnings,
  violationWarnings,
  warning,
  windowsJudgedAsLinuxWarning,
  wouldChangeWarnings,
} from '../audit/warnings.js';
import { harden, newEphemeralContainers } from '../harden/harden.js';
import { MAX_CONTAINERS_PER_POD } from '../pod/limits.js';
import { linuxOnlyFields } from '../pod/windows.js';
import { createRecordSealer, randomSealKeys, type RecordSealer, type SealSubject } from '../record/seal.js';

export type ReviewOutcomeKind = 'patched' | 'unchanged' | 'skipped' | 'warned' | 'audited' | 'denied';

/** Fixed set, so it can be a metric label. */
export type SkipReason =
  | 'not-a-pod'
  | 'operation'
  | 'namespace-not-opted-in'
  | 'mirror-pod'
  | 'windows-host-process'
  | 'pod-opt-out'
  | 'no-new-ephemeral-containers'
  | 'over-limits';

/**
 * A skip the pod claimed and did not get (fixed set, a metric label): a mirror-pod marker on a pod no
 * node created, hostProcess on a pod that is not Windows, or any opt-out in a namespace that does not
 * allow them.
 */
export type RefusedSkip = 'mirror-pod' | 'windows-host-process' | 'pod-opt-out';

export interface ReviewResult {
  readonly response: AdmissionResponse;
  readonly outcome: ReviewOutcomeKind;
  readonly skipReason?: SkipReason;
  readonly mode?: Mode;
  /** Number of field-level changes made (enforce) or that would be made (warn, audit), by control. */
  readonly changesByControl: Readonly<Partial<Record<ControlId, number>>>;
  /** Pod Security "restricted" checks still failing after hardening, one entry per failing check. */
  readonly residualViolations: readonly string[];
  readonly refusedSkips: readonly RefusedSkip[];
  /** Fields for the one structured log line per review (never whole objects). */
  readonly logFields: Readonly<Record<string, unknown>>;
  /**
   * What hardening did, field by field, when the controls ran: for the offline reports, which need more
   * than the patch and would otherwise run the controls a second time.
   */
  readonly hardening?: ReviewHardening;
}

export interface ReviewHardening {
  /** The JSON Patch the response carries base64-encoded (empty in warn and audit modes). */
  readonly patch: readonly Operation[];
  readonly changes: readonly Change[];
  readonly skipped: readonly Skip[];
  readonly violations: readonly Violation[];
  readonly optOuts: readonly string[];
  /** Problems with the pod's own annotations (bad opt-outs and values), as the warnings carry them. */
  readonly policyWarnings: readonly string[];
}

export interface ReviewDeps {
  readonly settings: EngineSettings;
  readonly namespaces: NamespaceSource;
  /** Seals and checks our changes record; every replica must share its keys. Default: this process's. */
  readonly sealer?: RecordSealer;
  /** Milliseconds since the epoch, for seals. Default: Date.now. */
  readonly now?: () => number;
}

const processSealKeys = randomSealKeys();
const processSealer = createRecordSealer(() => processSealKeys);

function podName(pod: Pod | undefined, request: AdmissionRequest): string | undefined {
  return pod?.metadata?.name ?? request.name ?? pod?.metadata?.generateName;
}

/** A request from a node's identity: the only author of a real mirror pod. */
function fromNode(userInfo: unknown): boolean {
  if (!isJsonObject(userInfo)) return false;
  const { username, groups } = userInfo;
  return (
    typeof username === 'string' &&
    username.startsWith('system:node:') &&
    Array.isArray(groups) &&
    groups.includes('system:nodes')
  );
}

function username(userInfo: unknown): string {
  return isJsonObject(userInfo) && typeof userInfo.username === 'string' ? userInfo.username : '';
}

function containerCount(pod: Pod): number {
  let count = 0;
  for (const list of CONTAINER_LISTS) count += pod.spec?.[list]?.length ?? 0;
  return count;
}

function sealSubject(request: AdmissionRequest, pod: Pod, namespace: string, keys: Keys): SealSubject {
  const annotations = pod.metadata?.annotations ?? {};
  return {
    namespace,
    name: pod.metadata?.name ?? request.name ?? '',
    generateName: pod.metadata?.generateName ?? '',
    username: username(request.userInfo),
    dryRun: request.dryRun === true,
    changes: annotations[keys.changes] ?? '',
    optOuts: annotations[keys.optOuts],
  };
}

/**
 * Decides what to do with one AdmissionReview and answers it. Allows every pod it reviews: pod-hardener
 * mutates, and refusing is left to Pod Security admission. The one exception is a pod beyond the caps
 * of engine/pod/limits.ts in enforce mode, which cannot be hardened within the webhook's budget.
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
  const claimWarnings: string[] = [];
  const refusedSkips: RefusedSkip[] = [];
  const skip = (reason: SkipReason, detail?: string, warnings: readonly string[] = []): ReviewResult => ({
    response: {
      uid: request.uid,
      allowed: true,
      ...(warnings.length > 0 ? { warnings: boundWarnings(warnings.map(warning)) } : {}),
    },
    outcome: 'skipped',
    skipReason: reason,
    changesByControl: {},
    residualViolations: [],
    refusedSkips,
    logFields: { ...logFields, skipped: reason, ...(detail ? { detail } : {}) },
  });

  if (request.kind.kind !== 'Pod' || (request.kind.group ?? '') !== '' || pod === undefined)
    return skip('not-a-pod');
  const isCreate = request.operation === 'CREATE' && (request.subResource ?? '') === '';
  const isEphemeral = request.operation === 'UPDATE' && request.subResource === 'ephemeralcontainers';
  if (!isCreate && !isEphemeral) return skip('operation');
  const newEphemeral = isEphemeral
    ? new Set(newEphemeralContainers(pod, (request.oldObject ?? { spec: {} }) as Pod))
    : undefined;
  if (newEphemeral?.size === 0) return skip('no-new-ephemeral-containers');
  if (claimsMirrorPod(pod)) {
    if (fromNode(request.userInfo)) return skip('mirror-pod');
    // Anyone may write the annotation; only a kubelet creates real mirror pods.
    claimWarnings.push('kubernetes.io/config.mirror ignored: only a node creates mirror pods');
    refusedSkips.push('mirror-pod');
  }

  const lookup = await deps.namespaces.lookup(namespace);
  const decision = decideNamespace(lookup, namespace, deps.settings);
  const lookupFailure = lookup.kind === 'failed' ? lookup.reason : undefined;
  if (lookupFailure !== undefined) logFields.namespaceLookupFailure = lookupFailure;
  if (!decision.optedIn) return skip('namespace-not-opted-in');

  const containers = containerCount(pod);
  if (containers > MAX_CONTAINERS_PER_POD) {
    const message = `pod has ${containers} containers; pod-hardener reviews at most ${MAX_CONTAINERS_PER_POD}`;
    // audit mode prints nothing, as everywhere else.
    const warnings = decision.mode === 'warn' ? [`${message}; admitted unreviewed`] : [];
    if (decision.mode !== 'enforce') return skip('over-limits', message, warnings);
    return {
      response: {
        uid: request.uid,
        allowed: false,
        status: { code: 422, message: `pod-hardener: ${message}` },
      },
      outcome: 'denied',
      mode: decision.mode,
      changesByControl: {},
      residualViolations: [],
      refusedSkips,
      logFields: { ...logFields, mode: decision.mode, denied: message },
    };
  }

  if (isHostProcessPod(pod)) {
    if (!isWindowsPod(pod)) {
      claimWarnings.push('windowsOptions.hostProcess ignored: the pod is not a Windows pod');
      refusedSkips.push('windows-host-process');
    } else if (!decision.allowOptOut) {
      claimWarnings.push('Windows hostProcess pod hardened: this namespace does not allow opt-outs');
      refusedSkips.push('windows-host-process');
    } else {
      return skip('windows-host-process');
    }
  }

  const keys = keysFor(deps.settings.annotationPrefix);
  const now = deps.now ?? Date.now;
  const sealer = deps.sealer ?? processSealer;
  const subject = sealSubject(request, pod, namespace, keys);
  const annotations = pod.metadata?.annotations ?? {};
  const recordTrusted = isCreate && sealer.verify(subject, annotations[keys.changesSeal], now());
  const resolution = resolvePolicy(deps.settings, decision, pod, recordTrusted);
  if (resolution.skipPod) return skip('pod-opt-out', resolution.optOuts.join(','));
  const { policy } = resolution;
  if (policy.refusedOptOuts.length > 0) refusedSkips.push('pod-opt-out');
  const forgedRecord = recordTrusted
    ? []
    : [keys.changes, keys.optOuts, keys.changesSeal].filter((key) => annotations[key] !== undefined);
  if (isCreate && forgedRecord.length > 0) {
    const fate = policy.mode === 'enforce' ? 'removed' : 'ignored';
    claimWarnings.push(`${forgedRecord.join(', ')} not written by pod-hardener for this request; ${fate}`);
  }
  const result = harden(pod, policy, {
    ...(newEphemeral ? { newEphemeral } : {}),
    sealRecord: (changes, optOuts) => sealer.seal({ ...subject, changes, optOuts }, now()),
  });

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
      ...claimWarnings.map(warning),
      ...policy.warnings.map(warning),
      ...(mode === 'warn' ? wouldChangeWarnings(result.changes) : []),
      ...(isCreate && isWindowsPod(result.draft) && result.draft.spec?.os?.name !== 'windows'
        ? [windowsJudgedAsLinuxWarning(linuxOnlyFields(result.draft))]
        : []),
      ...startableWarnings(result.skipped),
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
    profiles: result.profiles,
    patched,
    laterPass: recordTrusted,
  });

  return {
    response,
    outcome,
    mode,
    changesByControl,
    residualViolations: result.violations.map((v) => v.check),
    refusedSkips,
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
      ...(result.profiles.length > 0 ? { profiles: result.profiles } : {}),
      ...(refusedSkips.length > 0 ? { refusedSkips } : {}),
      ...(recordTrusted ? { laterPass: true } : {}),
      containers: result.containersInScope,
    },
    hardening: {
      patch: result.patch,
      changes: result.changes,
      skipped: result.skipped,
      violations: result.violations,
      optOuts: policy.optOuts,
      policyWarnings: policy.warnings,
    },
  };
}
