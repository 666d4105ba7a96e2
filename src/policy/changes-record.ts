/**
 * The record earlier passes of ours left in the `changes` annotation. Read once per review: the
 * policy needs it to know which pod-level values we set (reinvocation), and the audit merge appends
 * to it.
 */
import { isJsonObject } from '../util/json.js';

export interface ChangeEntry {
  readonly control: string;
  readonly target: string;
  readonly path: string;
  readonly value: unknown;
}

export interface ChangesRecord {
  readonly entries: readonly ChangeEntry[];
  /** Entries earlier passes had to leave out to stay within the size bound. */
  readonly truncated: number;
}

export const EMPTY_CHANGES_RECORD: ChangesRecord = { entries: [], truncated: 0 };

function isChangeEntry(value: unknown): value is ChangeEntry {
  return (
    isJsonObject(value) &&
    typeof value.control === 'string' &&
    typeof value.target === 'string' &&
    typeof value.path === 'string'
  );
}

/**
 * Absent or unreadable text is an empty record: the annotation key is ours, and a value that does
 * not parse cannot be audited anyway, so the next write replaces it.
 */
export function parseChangesRecord(text: string | undefined): ChangesRecord {
  if (text === undefined) return EMPTY_CHANGES_RECORD;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return EMPTY_CHANGES_RECORD;
  }
  if (!Array.isArray(parsed)) return EMPTY_CHANGES_RECORD;
  const entries: ChangeEntry[] = [];
  let truncated = 0;
  for (const item of parsed) {
    if (isChangeEntry(item)) entries.push(item);
    else if (isJsonObject(item) && typeof item.truncated === 'number') truncated += item.truncated;
  }
  return { entries, truncated };
}
