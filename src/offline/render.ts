/**
 * Turns an edited YAML document back into text that differs from its source only where it was edited:
 * render it before and after the edits with options guessed from the source, and splice the lines
 * that changed into the source (text-diff.ts). What the splice produces is parsed again and must be
 * the expected value, or the plain rendering is used (and must be it too).
 */
import { parse, type Document, type ToStringOptions } from 'yaml';

/** Indentation, sequence indentation and flow padding, as the source mostly writes them. */
export function styleOf(source: string): ToStringOptions {
  const lines = source.split('\n').filter((line) => line.trim() !== '' && !line.trimStart().startsWith('#'));
  let indent: number | undefined;
  let indentSeq: boolean | undefined;
  for (let i = 0; i + 1 < lines.length && (indent === undefined || indentSeq === undefined); i++) {
    const line = lines[i] ?? '';
    const next = lines[i + 1] ?? '';
    if (!/^\s*[^\s#-][^#]*:\s*$/.test(line)) continue;
    const own = line.length - line.trimStart().length;
    const nextIndent = next.length - next.trimStart().length;
    if (next.trimStart().startsWith('- ') || next.trim() === '-') {
      indentSeq ??= nextIndent > own;
    } else if (nextIndent > own) {
      indent ??= nextIndent - own;
    }
  }
  const padded = (source.match(/[[{] \S/g) ?? []).length;
  const tight = (source.match(/[[{][^\s\]}]/g) ?? []).length;
  return {
    indent: indent ?? 2,
    indentSeq: indentSeq ?? true,
    flowCollectionPadding: padded >= tight,
    lineWidth: 0,
    minContentWidth: 0,
  };
}

export function render(doc: Document, options: ToStringOptions): string {
  return doc.toString(options);
}

/** Parses YAML text the way the API would see it (aliases resolved), for checking an edit. */
export function valueOf(text: string): unknown {
  return parse(text, { prettyErrors: false });
}

/** Structural equality of JSON-like values, key order ignored. */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) {
    return typeof a === 'number' && typeof b === 'number' && Number.isNaN(a) && Number.isNaN(b);
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => sameValue(item, b[i]));
  }
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const keys = Object.keys(ra);
  return (
    keys.length === Object.keys(rb).length &&
    keys.every((k) => Object.hasOwn(rb, k) && sameValue(ra[k], rb[k]))
  );
}
