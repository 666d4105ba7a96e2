/**
 * PolicyReports (wgpolicyk8s.io/v1alpha2), one per namespace, as Policy Reporter reads them: a result per
 * workload and control (fail: the control would change the pod template; pass: nothing to change;
 * skip: opted out or the webhook would skip the pod) and one per residual Pod Security violation (warn).
 */
import { stringify } from 'yaml';
import { CONTROL_IDS, type Mode } from '../../engine/index.js';
import type { FileResult, WorkloadReport } from '../harden-file.js';
import { CONTROL_DESCRIPTIONS } from './controls.js';

export type Result = 'pass' | 'fail' | 'warn' | 'error' | 'skip';

export interface PolicyResult {
  policy: string;
  rule: string;
  category: string;
  severity: string;
  result: Result;
  scored: boolean;
  source: string;
  message: string;
  timestamp: { seconds: number; nanos: number };
  resources: { apiVersion: string; kind: string; name: string; namespace: string }[];
  properties?: Record<string, string>;
}

function controlResult(w: WorkloadReport, control: string): { result: Result; message: string } {
  if (w.outcome === 'skipped') return { result: 'skip', message: `pod skipped: ${w.skipReason ?? ''}` };
  if (w.outcome === 'denied') return { result: 'error', message: w.deniedMessage ?? 'refused' };
  const changes = w.changes.filter((c) => c.control === control);
  if (changes.length > 0) {
    return {
      result: 'fail',
      message: `not hardened: ${changes.map((c) => c.field).join(', ')}`,
    };
  }
  const optedOut = w.optOuts.filter((o) => o === control || o.endsWith(`/${control}`));
  if (optedOut.length > 0) return { result: 'skip', message: `opted out: ${optedOut.join(', ')}` };
  const skips = w.skipped.filter((s) => s.control === control);
  if (skips.length > 0) {
    return { result: 'skip', message: skips.map((s) => `${s.target}: ${s.reason}`).join('; ') };
  }
  return { result: 'pass', message: 'nothing to change' };
}

/** What one report resource contributes: the resource, its properties, and how each control fared. */
export interface ReportSubject {
  readonly resource: PolicyResult['resources'][number];
  readonly properties: Record<string, string>;
  readonly controlResult: (control: string) => Pick<PolicyResult, 'result' | 'message'>;
  readonly violations: readonly {
    readonly check: string;
    readonly target: string;
    readonly detail: string;
  }[];
  /** Appended to each violation's message: where the violation was found. */
  readonly violationContext: string;
}

/**
 * A result per control and one per residual violation, for one resource; shared by `harden
 * --report policyreport` (workloads) and `audit` (stored pods), so the two reports cannot drift.
 */
export function resultsFor(subject: ReportSubject, timestamp: PolicyResult['timestamp']): PolicyResult[] {
  const resources = [subject.resource];
  const { properties } = subject;
  const results: PolicyResult[] = CONTROL_IDS.map((control) => ({
    policy: 'pod-hardener',
    rule: control,
    category: 'Pod Hardening',
    severity: 'medium',
    ...subject.controlResult(control),
    scored: true,
    source: 'pod-hardener',
    timestamp,
    resources,
    properties: { ...properties, description: CONTROL_DESCRIPTIONS[control] },
  }));
  for (const v of subject.violations) {
    results.push({
      policy: 'pod-security-restricted',
      rule: v.check,
      category: 'Pod Security Standards (Restricted)',
      severity: 'high',
      result: 'warn',
      scored: true,
      source: 'pod-hardener',
      message: `${v.target}: ${v.detail} (${subject.violationContext})`,
      timestamp,
      resources,
      properties,
    });
  }
  return results;
}

/** Adds `results` to its namespace's list. */
export function addResults(
  byNamespace: Map<string, PolicyResult[]>,
  namespace: string,
  results: readonly PolicyResult[],
): void {
  const list = byNamespace.get(namespace) ?? [];
  byNamespace.set(namespace, list);
  for (const result of results) list.push(result);
}

export function policyReports(files: readonly FileResult[], mode: Mode, now: Date): string {
  const timestamp = { seconds: Math.floor(now.getTime() / 1000), nanos: 0 };
  const byNamespace = new Map<string, PolicyResult[]>();
  for (const w of files.flatMap((f) => f.workloads)) {
    if (w.outcome === 'no-pod-template') continue;
    const subject: ReportSubject = {
      resource: { apiVersion: w.apiVersion, kind: w.kind, name: w.name, namespace: w.namespace },
      properties: { file: w.file, line: String(w.line), mode },
      controlResult: (control) => controlResult(w, control),
      violations: w.violations,
      violationContext: 'left after hardening',
    };
    addResults(byNamespace, w.namespace, resultsFor(subject, timestamp));
  }
  return renderPolicyReports(byNamespace);
}

/** The name of the one report per namespace, for `harden --report policyreport` and `audit`. */
export const REPORT_NAME = 'pod-hardener';

/** One PolicyReport per namespace with its summary (shared with `audit`, which adds its own labels). */
export function policyReportObjects(
  byNamespace: ReadonlyMap<string, readonly PolicyResult[]>,
  labels: Readonly<Record<string, string>> = { 'app.kubernetes.io/managed-by': 'pod-hardener' },
): Record<string, unknown>[] {
  return [...byNamespace.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([namespace, results]) => {
      const summary = { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 };
      for (const r of results) summary[r.result]++;
      return {
        apiVersion: 'wgpolicyk8s.io/v1alpha2',
        kind: 'PolicyReport',
        metadata: {
          name: REPORT_NAME,
          namespace,
          labels: { ...labels },
        },
        summary,
        results,
      };
    });
}

export function renderPolicyReports(
  byNamespace: ReadonlyMap<string, readonly PolicyResult[]>,
  labels?: Readonly<Record<string, string>>,
): string {
  const reports = policyReportObjects(byNamespace, labels);
  return reports.map((r) => stringify(r, { lineWidth: 0 })).join('---\n');
}
