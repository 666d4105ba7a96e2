/**
 * The audit annotations of the response, which the API server writes to its audit log for the request.
 */
import type { ControlId } from '../controls/ids.js';
import type { Violation } from '../pod-security/restricted.js';
import { truncate } from './warnings.js';

const MAX_AUDIT_VALUE_LENGTH = 1024;

export interface AuditSummary {
  readonly mode: string;
  readonly changes: number;
  readonly changesByControl: Readonly<Partial<Record<ControlId, number>>>;
  readonly violations: readonly Violation[];
  readonly optOuts: readonly string[];
  /** `container=profile` for every container an image profile applied to. */
  readonly profiles?: readonly string[];
  readonly patched: boolean;
  /** A CREATE whose pod already carries our changes record: normally the reinvocation pass. */
  readonly laterPass: boolean;
}

/** Key prefix of a later pass's audit annotations; see auditAnnotations. */
export const LATER_PASS_PREFIX = 'reinvocation-';

/**
 * Audit annotations. The API server prefixes each key with the webhook's name and writes them to the
 * audit log of the request, so they are short, flat strings.
 *
 * Both passes of a reinvoked webhook write into the same request's audit event, and the API server
 * drops (with only a log line of its own) any key a later pass sets to a different value. So a later
 * pass uses keys of its own; without that, the audit log would never show the hardening of a sidecar
 * another webhook injected after us.
 */
export function auditAnnotations(summary: AuditSummary): Record<string, string> {
  const annotations = firstPassAuditAnnotations(summary);
  if (!summary.laterPass) return annotations;
  return Object.fromEntries(
    Object.entries(annotations).map(([key, value]) => [LATER_PASS_PREFIX + key, value]),
  );
}

function firstPassAuditAnnotations(summary: AuditSummary): Record<string, string> {
  const result: Record<string, string> = {
    mode: summary.mode,
    patched: String(summary.patched),
    changes: String(summary.changes),
  };
  const counts = Object.entries(summary.changesByControl);
  if (counts.length > 0) {
    result['controls'] = truncate(
      counts.map(([control, n]) => `${control}=${String(n)}`).join(','),
      MAX_AUDIT_VALUE_LENGTH,
    );
  }
  if (summary.violations.length > 0) {
    result['residual-violations'] = truncate(
      [...new Set(summary.violations.map((v) => `${v.check}:${v.target}`))].join(','),
      MAX_AUDIT_VALUE_LENGTH,
    );
  }
  if (summary.optOuts.length > 0) {
    result['opt-outs'] = truncate(summary.optOuts.join(','), MAX_AUDIT_VALUE_LENGTH);
  }
  if (summary.profiles !== undefined && summary.profiles.length > 0) {
    result['profiles'] = truncate(summary.profiles.join(','), MAX_AUDIT_VALUE_LENGTH);
  }
  return result;
}
