/**
 * The audit trail in its three bounded forms: the `changes` annotation on the pod, the audit
 * annotations that land in the API server's audit log, and the admission warnings kubectl prints.
 */
import type { ControlId } from '../controls/ids.js';
import type { Change } from '../controls/types.js';
import type { ChangeEntry, ChangesRecord } from '../record/changes.js';
import type { Violation } from '../pod-security/restricted.js';

/** Annotations count against the object's 256 KiB annotation budget; a few KiB is plenty for a record. */
export const MAX_CHANGES_ANNOTATION_BYTES = 8192;
/** The API server truncates longer warnings. */
export const MAX_WARNING_LENGTH = 255;
export const MAX_WARNINGS = 40;
const MAX_AUDIT_VALUE_LENGTH = 1024;

/**
 * Appends this pass's changes to the record of earlier passes (reinvocation hardens containers another
 * webhook added after us). Past the size bound the newest entries are replaced by a count, so the record
 * stays exact about how many changes it does not show.
 */
export function mergeChangesAnnotation(earlier: ChangesRecord, changes: readonly Change[]): string {
  const entries: ChangeEntry[] = [...earlier.entries];
  for (const { control, target, path, value } of changes) entries.push({ control, target, path, value });
  return boundedJsonArray(entries, earlier.truncated);
}

function boundedJsonArray(entries: readonly ChangeEntry[], alreadyTruncated: number): string {
  const marker = (dropped: number): string => JSON.stringify({ truncated: dropped });
  // The first c entries and the commas between them only grow with c, so once they alone are past the
  // bound no longer prefix fits, and the entries after that are never rendered: a 100-container pod has
  // a thousand entries, of which a few dozen are shown.
  const serialised: string[] = [];
  const sizes: number[] = [];
  let prefixBytes = 0;
  for (const entry of entries) {
    const text = JSON.stringify(entry);
    const size = Buffer.byteLength(text);
    serialised.push(text);
    sizes.push(size);
    prefixBytes += size;
    if (2 + prefixBytes + serialised.length - 1 > MAX_CHANGES_ANNOTATION_BYTES) break;
  }
  // Bytes of "[e0,e1,...,e(count-1)]" plus the marker when entries are dropped, from the longest
  // candidate backwards in one pass (re-rendering per step would be quadratic).
  let count = serialised.length;
  for (; count >= 0; count--) {
    if (count < serialised.length) prefixBytes -= sizes[count] ?? 0;
    const dropped = entries.length - count + alreadyTruncated;
    const items = count + (dropped > 0 ? 1 : 0);
    const total = 2 + prefixBytes + Math.max(items - 1, 0) + (dropped > 0 ? marker(dropped).length : 0);
    if (total <= MAX_CHANGES_ANNOTATION_BYTES || count === 0) break;
  }
  const shown = serialised.slice(0, count);
  const dropped = entries.length - count + alreadyTruncated;
  if (dropped > 0) shown.push(marker(dropped));
  return `[${shown.join(',')}]`;
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}

const WARNING_PREFIX = 'pod-hardener: ';

export function warning(text: string): string {
  return truncate(WARNING_PREFIX + text.replace(/[^\x20-\x7e]/g, '?'), MAX_WARNING_LENGTH);
}

/** One warning per violation the webhook left in place. */
export function violationWarnings(violations: readonly Violation[]): string[] {
  return violations.map((v) =>
    warning(
      `${v.target === 'pod' ? 'pod' : `container ${JSON.stringify(v.target)}`}: ${v.detail} left in place (fails Pod Security "restricted", check ${v.check})`,
    ),
  );
}

/**
 * Warn mode: for each control and target, every field that would be set, relative to the target
 * (`securityContext.runAsUser=65532`). A list too long for one warning continues in the next one
 * rather than being cut, so nothing that would change goes unmentioned.
 */
export function wouldChangeWarnings(changes: readonly Change[]): string[] {
  const groups = new Map<string, { head: string; fields: string[] }>();
  for (const change of changes) {
    const key = `${change.control}\u0000${change.target}`;
    let group = groups.get(key);
    if (!group) {
      const where = change.target === 'pod' ? 'pod' : `container ${JSON.stringify(change.target)}`;
      groups.set(key, (group = { head: `warn mode: ${change.control} would set on ${where}: `, fields: [] }));
    }
    group.fields.push(`${relativeField(change.path)}=${JSON.stringify(change.value)}`);
  }
  const lines: string[] = [];
  for (const { head, fields } of groups.values()) {
    let line = '';
    for (const field of fields) {
      const candidate = line === '' ? field : `${line}, ${field}`;
      if (line !== '' && warning(head + candidate).length >= MAX_WARNING_LENGTH) {
        lines.push(warning(head + line));
        line = field;
      } else {
        line = candidate;
      }
    }
    if (line !== '') lines.push(warning(head + line));
  }
  return lines;
}

/** `/spec/containers/0/securityContext/runAsUser` → `securityContext.runAsUser`; `/spec/volumes` → `volumes`. */
function relativeField(pointer: string): string {
  const segments = pointer.split('/').slice(2);
  const inContainer = /^(initContainers|containers|ephemeralContainers)$/.test(segments[0] ?? '');
  return (inContainer ? segments.slice(2) : segments)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
}

/** Caps the list so a 100-container pod cannot flood the response; says how many were left out. */
export function boundWarnings(warnings: readonly string[]): string[] {
  const unique = [...new Set(warnings)];
  if (unique.length <= MAX_WARNINGS) return unique;
  const shown = unique.slice(0, MAX_WARNINGS - 1);
  shown.push(warning(`${unique.length - shown.length} more warnings not shown; see the webhook log`));
  return shown;
}

export interface AuditSummary {
  readonly mode: string;
  readonly changes: number;
  readonly changesByControl: Readonly<Partial<Record<ControlId, number>>>;
  readonly violations: readonly Violation[];
  readonly optOuts: readonly string[];
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
  return result;
}
