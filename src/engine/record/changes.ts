/**
 * The record earlier passes of ours left in the `changes` annotation. Read once per review: the
 * policy needs it to know which pod-level values we set (reinvocation), and the audit merge appends
 * to it.
 */
import { MAX_CHANGES_RECORD_BYTES } from '../pod/limits.js';
import { isJsonObject } from '../pod/json.js';

const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) > 0;

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
 * not parse cannot be audited anyway, so the next write replaces it. Only call this on a record whose
 * seal was verified (engine/record/seal.ts): anything else is the pod author's text.
 */
export function parseChangesRecord(text: string | undefined): ChangesRecord {
  if (text === undefined || text.length > MAX_CHANGES_RECORD_BYTES) return EMPTY_CHANGES_RECORD;
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
    else if (isJsonObject(item) && isCount(item.truncated)) truncated += item.truncated;
  }
  return { entries, truncated };
}
