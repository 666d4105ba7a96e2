/**
 * The admission warnings kubectl prints: what warn mode would change, the Pod Security violations left
 * in place and the problems with annotations, each printable, bounded and capped in number.
 */
import type { Change, Skip } from '../controls/types.js';
import type { Violation } from '../pod-security/restricted.js';

/** The API server truncates longer warnings. */
export const MAX_WARNING_LENGTH = 255;
export const MAX_WARNINGS = 40;

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

/** One warning per default left out because it would have stopped the container from starting. */
export function startableWarnings(skipped: readonly Skip[]): string[] {
  return skipped
    .filter((skip) => skip.keepsStartable === true)
    .map((skip) =>
      warning(
        `${skip.target === 'pod' ? 'pod' : `container ${JSON.stringify(skip.target)}`}: ${skip.control}: ${skip.reason}`,
      ),
    );
}

/**
 * A pod that only its nodeSelector or required node affinity marks as Windows and that still has no
 * `spec.os.name` after the pass. Pod Security exempts Windows pods from its Linux-only checks by that
 * field alone, so it judges this one as Linux. `linuxOnly` are the fields that kept the webhook from
 * filling it (the API forbids them on Windows); empty when run-as-non-root is off for the whole pod.
 */
export function windowsJudgedAsLinuxWarning(linuxOnly: readonly string[]): string {
  // One field named, so that even a long pointer leaves the line whole.
  const more = linuxOnly.length > 1 ? ` and ${linuxOnly.length - 1} more` : '';
  const why =
    linuxOnly.length > 0
      ? `the API forbids ${linuxOnly[0] ?? ''}${more} on Windows`
      : 'run-as-non-root is disabled or opted out for the pod';
  return warning(
    `pod: Windows by node selector or affinity, but Pod Security judges it as Linux: spec.os.name not set as ${why}`,
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
