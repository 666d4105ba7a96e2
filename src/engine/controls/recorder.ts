import type { Change, Skip, Target } from './types.js';
import type { ControlId } from './ids.js';
import { cloneJson, isJsonObject, type JsonObject } from '../pod/json.js';

/** RFC 6901 escaping of one pointer segment. */
export function escapePointerSegment(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

export function pointerOf(base: string, ...segments: (string | number)[]): string {
  return segments.reduce<string>((acc, s) => `${acc}/${escapePointerSegment(String(s))}`, base);
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
 * choice", and that records each change field by field.
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
    let parent = root as JsonObject;
    for (const key of keys.slice(0, -1)) {
      const next = parent[key];
      if (isJsonObject(next)) {
        parent = next;
      } else {
        const created: JsonObject = {};
        parent[key] = created;
        parent = created;
      }
    }
    parent[keys[keys.length - 1] ?? ''] = value;
    this.record(target, pointerOf(rootPointer, ...keys), value, profile);
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
      existing.push(value);
      this.record(target, pointerOf(rootPointer, ...keys, existing.length - 1), value, profile);
    } else {
      this.fill(root, rootPointer, keys, [value], target, profile);
    }
  }

  private record(target: Target, path: string, value: unknown, profile: string | undefined): void {
    // A copy: later appends to the same array in this pass must not rewrite what this change recorded.
    this.changes.push({
      control: this.control,
      target,
      path,
      value: cloneJson(value),
      ...(profile === undefined ? {} : { profile }),
    });
  }

  skip(target: Target, reason: string, extra: Pick<Skip, 'profile' | 'keepsStartable'> = {}): void {
    this.skipped.push({ control: this.control, target, reason, ...extra });
  }

  result(): { changes: Change[]; skipped: Skip[] } {
    return { changes: this.changes, skipped: this.skipped };
  }
}
