/**
 * The common edit written straight into the source text: every operation adds a key to a block map
 * or an item to the end of a block sequence that the document already has, so each is a few new lines
 * after the collection's last line, at its indentation. Only the added values are rendered; the rest
 * of the document is neither rendered nor diffed. Anything else (a replace or remove, a flow
 * collection, an alias on the way, a key that exists, a parent the patch itself creates) returns
 * undefined and the caller renders the whole document (render.ts, text-diff.ts). The caller checks
 * the result by parsing it, as it checks every edit.
 */
import type { Operation } from 'fast-json-patch';
import { Document, isMap, isSeq, type Node, type ToStringOptions } from 'yaml';
import type { SourceDocument } from './documents.js';
import type { Path } from './workloads.js';

interface Insertion {
  /** Offset in the document's source where the lines go (the start of a line). */
  readonly at: number;
  /** Nesting depth of the collection: at one offset, the deepest collection's lines come first. */
  readonly depth: number;
  readonly order: number;
  readonly column: number;
  /** What to render: `{key: value}` for a map, `[value]` for a sequence. */
  readonly entry: unknown;
  /** The source's last line has no newline: end it first. */
  readonly newline: boolean;
}

function pointerKeys(pointer: string): string[] {
  return pointer
    .slice(1)
    .split('/')
    .map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'));
}

/** The collection at `path` in the parsed document, if every step is a plain (non-alias) node. */
function collectionAt(doc: Document.Parsed, path: readonly (string | number)[]): Node | undefined {
  let node: unknown = doc.contents;
  for (const key of path) {
    if (isMap(node)) node = node.get(key, true);
    else if (isSeq(node) && typeof key === 'number') node = node.items[key];
    else if (isSeq(node) && /^(0|[1-9][0-9]*)$/.test(String(key))) node = node.items[Number(key)];
    else return undefined;
  }
  return isMap(node) || isSeq(node) ? node : undefined;
}

function lineStart(text: string, offset: number): number {
  return text.lastIndexOf('\n', offset - 1) + 1;
}

/** Indents every line of a block rendering; refuses text whose blank lines could be scalar content. */
function indented(lines: readonly string[], column: number): string | undefined {
  if (lines.length === 0 || lines.some((line) => line.trim() === '')) return undefined;
  const pad = ' '.repeat(column);
  return lines.map((line) => `${pad}${line}\n`).join('');
}

/**
 * Every entry rendered in one go: a Document per value costs more than the value itself. They are
 * rendered as the values of a map with keys `k0`, `k1`...; each value's lines are those after its
 * key's line, less the indentation of the first of them.
 */
function renderEntries(entries: readonly unknown[], style: ToStringOptions): string[][] | undefined {
  const wrapper = Object.fromEntries(entries.map((entry, i) => [`k${i}`, entry]));
  const lines = new Document(wrapper).toString(style).split('\n');
  const chunks: string[][] = [];
  for (const line of lines) {
    if (/^k[0-9]+:$/.test(line)) chunks.push([]);
    else if (line !== '' || chunks.length > 0) chunks.at(-1)?.push(line);
  }
  if (chunks.length !== entries.length) return undefined;
  return chunks.map((chunk) => {
    while (chunk.at(-1) === '') chunk.pop();
    const indent = (chunk[0] ?? '').length - (chunk[0] ?? '').trimStart().length;
    return chunk.map((line) => line.slice(Math.min(indent, line.length - line.trimStart().length)));
  });
}

function insertionFor(
  document: SourceDocument,
  base: Path,
  op: Operation,
  order: number,
): Insertion | undefined {
  if (op.op !== 'add') return undefined;
  const keys = pointerKeys(op.path);
  const last = keys.pop();
  if (last === undefined) return undefined;
  const path = [...base, ...keys];
  const parent = collectionAt(document.doc, path);
  if (parent === undefined || !(isMap(parent) || isSeq(parent)) || parent.flow === true) return undefined;
  const end = parent.range?.[1];
  const first = parent.items[0];
  if (end === undefined || first === undefined) return undefined;
  const { source } = document;
  const local = (offset: number): number => offset - document.offset;

  let column: number;
  let entry: unknown;
  if (isMap(parent)) {
    if (parent.has(last)) return undefined;
    const keyStart = (parent.items[0]?.key as Node | null | undefined)?.range?.[0];
    if (keyStart === undefined) return undefined;
    column = local(keyStart) - lineStart(source, local(keyStart));
    entry = { [last]: op.value as unknown };
  } else {
    if (last !== '-' && Number(last) !== parent.items.length) return undefined;
    const itemStart = (first as Node | null)?.range?.[0];
    if (itemStart === undefined) return undefined;
    // The item's node starts after its "- ": the dash is the sequence's column.
    let dash = local(itemStart) - 1;
    while (dash >= 0 && source[dash] === ' ') dash--;
    if (source[dash] !== '-') return undefined;
    column = dash - lineStart(source, dash);
    entry = [op.value];
  }
  const at = local(end);
  // A collection ends at the end of its last line; one that ends the text without a newline gets one.
  if (at <= 0 || at > source.length || (source[at - 1] !== '\n' && at !== source.length)) return undefined;
  return { at, depth: path.length, order, column, entry, newline: source[at - 1] !== '\n' };
}

/** The document's source with every operation's new lines in place, or undefined (see above). */
export function insertIntoSource(
  document: SourceDocument,
  edits: readonly { readonly base: Path; readonly patch: readonly Operation[] }[],
  style: ToStringOptions,
): string | undefined {
  const insertions: Insertion[] = [];
  for (const { base, patch } of edits) {
    for (const op of patch) {
      const insertion = insertionFor(document, base, op, insertions.length);
      if (insertion === undefined) return undefined;
      insertions.push(insertion);
    }
  }
  const rendered = renderEntries(
    insertions.map((i) => i.entry),
    style,
  );
  if (rendered === undefined) return undefined;
  const texts: string[] = [];
  for (const [i, insertion] of insertions.entries()) {
    const text = indented(rendered[i] ?? [], insertion.column);
    if (text === undefined) return undefined;
    texts.push(insertion.newline ? `\n${text}` : text);
  }
  const order = [...insertions.keys()].sort((x, y) => {
    const a = insertions[x] as Insertion;
    const b = insertions[y] as Insertion;
    return a.at - b.at || b.depth - a.depth || a.order - b.order;
  });
  let out = '';
  let from = 0;
  for (const i of order) {
    const { at } = insertions[i] as Insertion;
    out += document.source.slice(from, at) + (texts[i] ?? '');
    from = at;
  }
  return out + document.source.slice(from);
}
