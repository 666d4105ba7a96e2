/**
 * One workload through the webhook's own pipeline. The review decides exactly as admission would
 * (shape check, mirror-pod and hostProcess claims, caps, pod opt-outs), its JSON Patch is what gets
 * written, and the same pass's field-level changes and residual Pod Security violations feed the
 * reports.
 */
import type { Operation } from 'fast-json-patch';
import {
  LOOKUPS_OFF,
  keysFor,
  parseAdmissionReview,
  reviewAdmission,
  type EngineSettings,
  type Mode,
  type Pod,
  type ReviewHardening,
} from '../engine/index.js';

export type WorkloadOutcome =
  /** Hardened (enforce), or judged (warn, audit); `changes` may be empty. */
  | 'reviewed'
  /** The webhook would leave the pod alone: `skipReason` says why. */
  | 'skipped'
  /** The webhook would refuse the pod (beyond its caps in enforce mode). */
  | 'denied';

/** The review's own changes, skips, opt-outs and violations (empty when it skipped or refused the pod). */
export interface EngineResult extends Omit<ReviewHardening, 'policyWarnings'> {
  readonly outcome: WorkloadOutcome;
  readonly skipReason?: string;
  readonly deniedMessage?: string;
  /** What to write into the template: the webhook's patch without the record annotations. */
  readonly patch: readonly Operation[];
  /** Problems with the pod's annotations, and record annotations the template should not carry. */
  readonly warnings: readonly string[];
  /** The warnings admission would return to kubectl, verbatim. */
  readonly admissionWarnings: readonly string[];
}

export class PodShapeError extends Error {}

export async function runEngine(pod: Pod, settings: EngineSettings, mode: Mode): Promise<EngineResult> {
  const namespace = pod.metadata?.namespace ?? '';
  const parsed = parseAdmissionReview({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'pod-hardener-offline',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      operation: 'CREATE',
      namespace,
      object: pod,
      userInfo: { username: 'pod-hardener-offline' },
    },
  });
  if ('error' in parsed) throw new PodShapeError(parsed.error);

  const engineSettings: EngineSettings = { ...settings, defaultMode: mode };
  const review = await reviewAdmission(parsed.review, { settings: engineSettings, namespaces: LOOKUPS_OFF });
  const admissionWarnings = review.response.warnings ?? [];
  const empty = {
    patch: [],
    changes: [],
    skipped: [],
    optOuts: [],
    violations: [],
    warnings: [],
    admissionWarnings,
  };
  if (review.outcome === 'skipped') {
    return { outcome: 'skipped', skipReason: review.skipReason ?? 'skipped', ...empty };
  }
  if (review.outcome === 'denied') {
    return { outcome: 'denied', deniedMessage: review.response.status?.message ?? 'denied', ...empty };
  }

  const keys = keysFor(settings.annotationPrefix);
  const hardening = review.hardening;
  // Every review that is neither skipped nor denied ran the controls.
  if (hardening === undefined) throw new Error(`review outcome ${review.outcome} without hardening`);
  const recordKeys = [keys.changes, keys.optOuts, keys.changesSeal];
  const annotations = pod.metadata?.annotations ?? {};
  const carried = recordKeys.filter((key) => annotations[key] !== undefined);
  const warnings = [...hardening.policyWarnings];
  if (carried.length > 0) {
    warnings.push(
      `${carried.join(', ')} in a pod template is not a record pod-hardener wrote; admission ignores or removes it`,
    );
  }
  return {
    outcome: 'reviewed',
    patch: withoutRecord(hardening.patch, recordKeys),
    changes: hardening.changes,
    skipped: hardening.skipped,
    optOuts: hardening.optOuts,
    violations: hardening.violations,
    warnings,
    admissionWarnings,
  };
}

const ANNOTATIONS = '/metadata/annotations';

function escapeKey(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}

/**
 * The patch minus the record annotations (`changes`, `opt-outs`, `changes-seal`): they are admission's
 * proof of what it did to one pod, and in a template they would be copied to every pod and read as a
 * forged record.
 */
function withoutRecord(patch: readonly Operation[], recordKeys: readonly string[]): Operation[] {
  const recordPaths = new Set(recordKeys.map((key) => `${ANNOTATIONS}/${escapeKey(key)}`));
  const kept: Operation[] = [];
  for (const op of patch) {
    if (recordPaths.has(op.path)) continue;
    if (op.path === ANNOTATIONS && (op.op === 'add' || op.op === 'replace')) {
      const value = { ...(op.value as Record<string, string>) };
      for (const key of recordKeys) Reflect.deleteProperty(value, key);
      if (op.op === 'add' && Object.keys(value).length === 0) continue;
      kept.push({ ...op, value });
      continue;
    }
    kept.push(op);
  }
  return kept;
}
