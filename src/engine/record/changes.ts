/**
 * The changes record: the `changes` annotation that lists, field by field, what our passes set on the
 * pod, with the `opt-outs` honoured and the seal that proves both are ours (seal.ts). Read once per
 * review (a reinvocation appends to what earlier passes recorded), written once per pass that changes
 * something.
 */
import type { Change, Skip } from '../controls/types.js';
import type { Pod } from '../pod/model.js';
import { MAX_CHANGES_RECORD_BYTES } from '../pod/limits.js';
import { isJsonObject } from '../pod/json.js';

const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) > 0;

/**
 * A control an image profile kept off a container, written to the record with its reason:
 * `{"control", "target", "skipped", "profile"}`. It has no `path`, so a reader that knows only field
 * entries passes over it.
 */
export interface ProfileSkipEntry {
  readonly control: Change['control'];
  readonly target: string;
  readonly skipped: string;
  readonly profile: string;
}

/** One entry of the record: a field set (maybe with the profile it came from), or a profile's skip. */
export type RecordEntry = Change | ProfileSkipEntry;

/** The record entry of a skip an image profile caused; undefined for every other skip. */
export function profileSkipEntry(skip: Skip): ProfileSkipEntry | undefined {
  if (skip.profile === undefined) return undefined;
  return { control: skip.control, target: skip.target, skipped: skip.reason, profile: skip.profile };
}

export interface ChangesRecord {
  /**
   * Entries as earlier passes wrote them. Only a sealed record is read, so each is one of our entries;
   * a control id this version does not know (a newer replica's, mid-upgrade) passes through.
   */
  readonly entries: readonly RecordEntry[];
  /** Entries earlier passes had to leave out to stay within the size bound. */
  readonly truncated: number;
}

export const EMPTY_CHANGES_RECORD: ChangesRecord = { entries: [], truncated: 0 };

function isRecordEntry(value: unknown): value is RecordEntry {
  return (
    isJsonObject(value) &&
    typeof value.control === 'string' &&
    typeof value.target === 'string' &&
    (typeof value.path === 'string' ||
      (typeof value.skipped === 'string' && typeof value.profile === 'string'))
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
  const entries: RecordEntry[] = [];
  let truncated = 0;
  for (const item of parsed) {
    if (isRecordEntry(item)) entries.push(item);
    else if (isJsonObject(item) && isCount(item.truncated)) truncated += item.truncated;
  }
  return { entries, truncated };
}

/** Annotations count against the object's 256 KiB annotation budget; a few KiB is plenty for a record. */
export const MAX_CHANGES_ANNOTATION_BYTES = 8192;
/**
 * Appends this pass's changes to the record of earlier passes (reinvocation hardens containers another
 * webhook added after us). Past the size bound the newest entries are replaced by a count, so the record
 * stays exact about how many changes it does not show.
 */
export function mergeChangesAnnotation(earlier: ChangesRecord, changes: readonly RecordEntry[]): string {
  const entries: RecordEntry[] = [...earlier.entries];
  for (const entry of changes) entries.push(canonicalEntry(entry));
  return boundedJsonArray(entries, earlier.truncated);
}

/** The entry with its keys in the documented order, and nothing else. */
function canonicalEntry(entry: RecordEntry): RecordEntry {
  if ('path' in entry) {
    const { control, target, path, value, profile } = entry;
    return profile === undefined
      ? { control, target, path, value }
      : { control, target, path, value, profile };
  }
  const { control, target, skipped, profile } = entry;
  return { control, target, skipped, profile };
}

/** An entry takes about this many bytes at least: a record with more entries is unlikely to fit whole. */
const MIN_ENTRY_BYTES = 48;

function boundedJsonArray(entries: readonly RecordEntry[], alreadyTruncated: number): string {
  // Nearly every record fits: then one JSON.stringify of the array is the answer, at a fraction of the
  // cost of serialising and measuring entry by entry (the array's text is its entries' joined by commas).
  if (alreadyTruncated === 0 && entries.length * MIN_ENTRY_BYTES <= MAX_CHANGES_ANNOTATION_BYTES) {
    const whole = JSON.stringify(entries);
    if (Buffer.byteLength(whole) <= MAX_CHANGES_ANNOTATION_BYTES) return whole;
  }
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

/** The annotation keys of the record (see resolve/keys.ts, which derives them from the prefix). */
export interface RecordKeys {
  readonly changes: string;
  readonly optOuts: string;
  readonly changesSeal: string;
}

export interface RecordWrite {
  readonly keys: RecordKeys;
  /** What earlier sealed passes recorded; this pass appends to it. */
  readonly earlier: ChangesRecord;
  /** Whether the record annotations the pod carries are ours (sealed for this request). */
  readonly trusted: boolean;
  /** The opt-outs honoured, as written. */
  readonly optOuts: readonly string[];
  /** This pass's entries, in control order: the fields set, and the skips image profiles caused. */
  readonly changes: readonly RecordEntry[];
  /** Seals the `changes` and `opt-outs` texts; without it the record is written unsealed. */
  readonly seal?: (changes: string, optOuts: string | undefined) => string;
}

/**
 * Writes this pass's record into the draft: earlier sealed entries and this pass's changes, the honoured
 * opt-outs and a new seal. A pass that changes nothing leaves a trusted record as it is, and removes
 * record annotations the pod author wrote, so the stored record only ever says what the webhook did.
 */
export function writeRecord(draft: Pod, write: RecordWrite): void {
  const { keys } = write;
  // A profile's skip is recorded once: a later pass (reinvocation) finds the same skips again, so one
  // that sets no field leaves the record as it stands, and one that does adds only skips not shown.
  const setsField = write.changes.some((entry) => 'path' in entry);
  const recorded = new Set(
    write.earlier.entries.filter((entry) => !('path' in entry)).map((entry) => JSON.stringify(entry)),
  );
  const changes =
    write.trusted && !setsField
      ? []
      : write.changes.filter(
          (entry) => 'path' in entry || !recorded.has(JSON.stringify(canonicalEntry(entry))),
        );
  const ours = [keys.changes, keys.optOuts, keys.changesSeal];
  if (changes.length === 0) {
    const metadata = draft.metadata;
    const annotations = metadata?.annotations;
    if (write.trusted || !metadata || !annotations || !ours.some((key) => Object.hasOwn(annotations, key)))
      return;
    const kept = { ...annotations };
    for (const key of ours) Reflect.deleteProperty(kept, key);
    metadata.annotations = kept;
    return;
  }
  const metadata = (draft.metadata ??= {});
  // A copy: the draft shares the input's annotations until the record is written (harden's draftOf).
  const annotations = { ...metadata.annotations };
  const record = mergeChangesAnnotation(write.earlier, changes);
  const optOuts = write.optOuts.length > 0 ? write.optOuts.join(',') : undefined;
  annotations[keys.changes] = record;
  if (optOuts === undefined) Reflect.deleteProperty(annotations, keys.optOuts);
  else annotations[keys.optOuts] = optOuts;
  if (write.seal === undefined) Reflect.deleteProperty(annotations, keys.changesSeal);
  else annotations[keys.changesSeal] = write.seal(record, optOuts);
  metadata.annotations = annotations;
}
