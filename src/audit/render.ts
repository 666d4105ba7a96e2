/** The three outputs of `pod-hardener audit`: a table, JSON, and PolicyReports (as `harden` writes them). */
import {
  addResults,
  policyReportObjects,
  REPORT_NAME,
  renderPolicyReports,
  resultsFor,
  type PolicyResult,
  type ReportSubject,
} from '../offline/reports/policy-report.js';
import { optedOutOf, type PodAudit } from './summarise.js';

export { REPORT_NAME };

/**
 * The labels of the reports `audit` writes. `component: audit` tells them from a `harden --report
 * policyreport` someone applied by hand, so `--apply` deletes only stale reports of its own.
 */
export const AUDIT_REPORT_LABELS = {
  'app.kubernetes.io/managed-by': 'pod-hardener',
  'app.kubernetes.io/component': 'audit',
} as const;

function pendingCell(a: PodAudit): string {
  if (a.pending === undefined) return '?';
  const byControl = Object.entries(a.pending)
    .map(([control, n]) => `${control}=${n}`)
    .join(',');
  return `${a.totalPending ?? 0}${byControl ? ` (${byControl})` : ''}`;
}

export function auditTable(audits: readonly PodAudit[]): string {
  const header = ['NAMESPACE', 'NAME', 'CHANGES', 'WOULD SET', 'SEALED', 'OPT-OUTS', 'RESTRICTED VIOLATIONS'];
  const rows = [header];
  for (const a of audits) {
    const changes = Object.entries(a.changes)
      .map(([control, n]) => `${control}=${n}`)
      .join(',');
    const optOuts = [
      ...a.optOuts,
      ...(a.skip === undefined ? [] : [`skip=${a.skip}`]),
      ...(a.skipControls === undefined ? [] : [`skip-controls=${a.skipControls}`]),
    ].join(' ');
    const violations = a.violations.map((v) => `${v.target}:${v.check}`).join(',');
    rows.push([
      a.namespace,
      a.name,
      `${a.totalChanges}${a.truncated > 0 ? `+${a.truncated} truncated` : ''}${changes ? ` (${changes})` : ''}`,
      pendingCell(a),
      a.sealed ? 'yes (unverified)' : 'no',
      optOuts || '-',
      `${a.violations.length}${violations ? ` (${violations})` : ''}`,
    ]);
  }
  const widths = header.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const lines = rows.map((r) =>
    r
      .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
  return `${lines.join('\n')}\n${audits.length === 0 ? 'no pods\n' : ''}`;
}

export function auditJson(audits: readonly PodAudit[]): string {
  return `${JSON.stringify(
    {
      note: 'changes-seal is reported as present or absent; it cannot be verified without the webhook key',
      pods: audits,
    },
    null,
    2,
  )}\n`;
}

function controlResult(
  a: PodAudit,
  control: string,
  disabled: readonly string[],
): Pick<PolicyResult, 'result' | 'message'> {
  if (disabled.includes(control)) return { result: 'skip', message: 'disabled in the configuration' };
  if (a.skip === 'true') return { result: 'skip', message: 'pod annotated skip' };
  const optedOut = optedOutOf(a, control);
  if (optedOut.length > 0) return { result: 'skip', message: `opted out: ${optedOut.join(', ')}` };
  const byProfile = a.profileSkips.filter((s) => s.endsWith(`/${control}`));
  if (byProfile.length > 0) {
    return { result: 'skip', message: `kept off by an image profile: ${byProfile.join(', ')}` };
  }
  if (a.leftAlone !== undefined) {
    return { result: 'skip', message: `the webhook leaves this pod alone: ${a.leftAlone}` };
  }
  const n = a.changes[control] ?? 0;
  const setAtAdmission = `hardened at admission: ${n} field(s) set`;
  if (a.pending === undefined) {
    return {
      result: 'error',
      message: `cannot tell what hardening would set: ${a.pendingError ?? 'not checked'}`,
    };
  }
  const pending = a.pending[control] ?? 0;
  if (pending > 0) {
    const would = `${pending} field(s) would be set by hardening now`;
    return { result: 'fail', message: n > 0 ? `${setAtAdmission}, but ${would}` : `not hardened: ${would}` };
  }
  if (n > 0) return { result: 'pass', message: setAtAdmission };
  return { result: 'pass', message: 'nothing to set: the pod already has every default' };
}

function resultsByNamespace(
  audits: readonly PodAudit[],
  now: Date,
  disabled: readonly string[],
): Map<string, PolicyResult[]> {
  const timestamp = { seconds: Math.floor(now.getTime() / 1000), nanos: 0 };
  const byNamespace = new Map<string, PolicyResult[]>();
  for (const a of audits) {
    const subject: ReportSubject = {
      resource: { apiVersion: 'v1', kind: 'Pod', name: a.name, namespace: a.namespace },
      properties: { sealed: a.sealed ? 'present (unverified)' : 'absent' },
      controlResult: (control) => controlResult(a, control, disabled),
      violations: a.violations,
      violationContext: 'on the stored pod',
    };
    addResults(byNamespace, a.namespace, resultsFor(subject, timestamp));
  }
  return byNamespace;
}

/** `disabled`: the configuration's disabledControls, reported as skipped. */
export function auditPolicyReports(
  audits: readonly PodAudit[],
  now: Date,
  disabled: readonly string[] = [],
): string {
  return renderPolicyReports(resultsByNamespace(audits, now, disabled), AUDIT_REPORT_LABELS);
}

export function auditPolicyReportObjects(
  audits: readonly PodAudit[],
  now: Date,
  disabled: readonly string[] = [],
): Record<string, unknown>[] {
  return policyReportObjects(resultsByNamespace(audits, now, disabled), AUDIT_REPORT_LABELS);
}
