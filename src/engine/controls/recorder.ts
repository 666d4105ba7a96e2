import type { Change, Skip, Target } from './types.js';
import type { ControlId } from './ids.js';
import { cloneJson, isJsonObject } from '../pod/json.js';
import { appendTo, writeField } from '../pod/draft.js';

const POINTER_SPECIALS = /[~/]/;

/** RFC 6901 escaping of one pointer segment. */
export function escapePointerSegment(segment: string): string {
  // Nearly no segment needs escaping; testing first saves two replacements per segment on every change.
  return POINTER_SPECIALS.test(segment) ? segment.replace(/~/g, '~0').replace(/\//g, '~1') : segment;
}

export function pointerOf(base: string, keys: readonly string[], index?: number): string {
  let pointer = base;
  for (const key of keys) pointer += `/${escapePointerSegment(key)}`;
  return index === undefined ? pointer : `${pointer}/${index}`;
}

/** Reads a nested field; undefined when any step is missing. */
export function getPath(root: unknown, keys: readonly string[]): unknown {
  let current: unknown = root;
  for (const key of keys) {
    if (!isJsonObject(current)) return undefined;
    current = current[key];
  }
  return current;
}

/**
 * Collects what a control does. Writes go through `fill`, which only sets absent fields and creates
 * parent objects only when it writes: the single place that enforces "never overwrite an explicit
 * choice", and that records each change field by field. It copies what the draft still shares with
 * the input before writing into it (pod/draft.ts).
 */
export class DraftRecorder {
  private readonly changes: Change[] = [];
  private readonly skipped: Skip[] = [];

  constructor(private readonly control: ControlId) {}

  /** Sets `root.keys...` if absent (undefined or null); returns whether it did. */
  fill(
    root: object,
    rootPointer: string,
    keys: readonly string[],
    value: unknown,
    target: Target,
    profile?: string,
  ): boolean {
    const existing = getPath(root, keys);
    if (existing !== undefined && existing !== null) return false;
    writeField(root, keys, value);
    this.record(target, pointerOf(rootPointer, keys), value, profile);
    return true;
  }

  /** Appends to the array at `root.keys...`, creating it when absent. */
  append(
    root: object,
    rootPointer: string,
    keys: readonly string[],
    value: unknown,
    target: Target,
    profile?: string,
  ): void {
    const existing = getPath(root, keys);
    if (Array.isArray(existing)) {
      const length = appendTo(root, keys, existing, value);
      this.record(target, pointerOf(rootPointer, keys, length - 1), value, profile);
    } else {
      this.fill(root, rootPointer, keys, [value], target, profile);
    }
  }

  private record(target: Target, path: string, value: unknown, profile: string | undefined): void {
    // A copy: later appends to the same array in this pass must not rewrite what this change recorded.
    const { control } = this;
    const copy = cloneJson(value);
    this.changes.push(
      profile === undefined
        ? { control, target, path, value: copy }
        : { control, target, path, value: copy, profile },
    );
  }

  skip(target: Target, reason: string, extra: Pick<Skip, 'profile' | 'keepsStartable'> = {}): void {
    this.skipped.push({ control: this.control, target, reason, ...extra });
  }

  result(): { changes: Change[]; skipped: Skip[] } {
    return { changes: this.changes, skipped: this.skipped };
  }
}
