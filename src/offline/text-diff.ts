/**
 * Line diffs: the edit script between two texts (Myers' O(ND) algorithm), a unified diff for `--diff`,
 * and the splice that carries edits made to a rendering of a YAML document back onto its source text.
 */

export type Edit =
  | { readonly kind: 'equal'; readonly a: number; readonly b: number }
  | { readonly kind: 'delete'; readonly a: number }
  | { readonly kind: 'insert'; readonly b: number };

/** Splits into lines, each keeping its own line end; a final line without one is kept as it is. */
export function splitLines(text: string): string[] {
  const lines = text.match(/[^\n]*\n|[^\n]+$/g);
  return lines === null ? [] : [...lines];
}

/** The shortest edit script turning `a` into `b`, in order. */
export function diffLines(a: readonly string[], b: readonly string[]): Edit[] {
  // Common prefix and suffix first: most edits here are a few insertions into a long document.
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const middle = myers(a.slice(start, endA), b.slice(start, endB)).map((edit): Edit => {
    switch (edit.kind) {
      case 'equal':
        return { kind: 'equal', a: edit.a + start, b: edit.b + start };
      case 'delete':
        return { kind: 'delete', a: edit.a + start };
      case 'insert':
        return { kind: 'insert', b: edit.b + start };
    }
  });
  const head: Edit[] = [];
  for (let i = 0; i < start; i++) head.push({ kind: 'equal', a: i, b: i });
  const tail: Edit[] = [];
  for (let i = 0; endA + i < a.length; i++) tail.push({ kind: 'equal', a: endA + i, b: endB + i });
  return [...head, ...middle, ...tail];
}

function myers(a: readonly string[], b: readonly string[]): Edit[] {
  const n = a.length;
  const m = b.length;
  const max = n + m;
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  let found = false;
  for (let d = 0; d <= max && !found; d++) {
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      let x =
        k === -d || (k !== d && (v[offset + k - 1] ?? 0) < (v[offset + k + 1] ?? 0))
          ? (v[offset + k + 1] ?? 0)
          : (v[offset + k - 1] ?? 0) + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) {
        found = true;
        break;
      }
    }
  }
  // Walk the trace back from (n, m).
  const edits: Edit[] = [];
  let x = n;
  let y = m;
  for (let d = trace.length - 1; d >= 0; d--) {
    const vd = trace[d] ?? new Int32Array(0);
    const k = x - y;
    const prevK =
      k === -d || (k !== d && (vd[offset + k - 1] ?? 0) < (vd[offset + k + 1] ?? 0)) ? k + 1 : k - 1;
    const prevX = d === 0 ? 0 : (vd[offset + prevK] ?? 0);
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      x--;
      y--;
      edits.push({ kind: 'equal', a: x, b: y });
    }
    if (d > 0) {
      if (x === prevX) edits.push({ kind: 'insert', b: --y });
      else edits.push({ kind: 'delete', a: --x });
    }
  }
  return edits.reverse();
}

/** A unified diff (3 lines of context) of two texts, or '' when they are equal. */
export function unifiedDiff(oldText: string, newText: string, oldName: string, newName: string): string {
  if (oldText === newText) return '';
  const a = splitLines(oldText);
  const b = splitLines(newText);
  const edits = diffLines(a, b);
  const context = 3;
  const out: string[] = [`--- ${oldName}\n`, `+++ ${newName}\n`];
  const changed = edits.map((e) => e.kind !== 'equal');
  let i = 0;
  while (i < edits.length) {
    if (!changed[i]) {
      i++;
      continue;
    }
    // A hunk: from `context` edits before this change to `context` after the last change that is no
    // more than 2 * context equal lines from the next.
    const first = Math.max(0, i - context);
    let last = i;
    for (let j = i; j < edits.length; j++) {
      if (changed[j]) last = j;
      else if (j - last > 2 * context) break;
    }
    const end = Math.min(edits.length, last + context + 1);
    const hunk = edits.slice(first, end);
    let oldStart = 0;
    let newStart = 0;
    // Line numbers where the hunk starts, from the edits before it.
    for (const e of edits.slice(0, first)) {
      if (e.kind !== 'insert') oldStart++;
      if (e.kind !== 'delete') newStart++;
    }
    const oldCount = hunk.filter((e) => e.kind !== 'insert').length;
    const newCount = hunk.filter((e) => e.kind !== 'delete').length;
    out.push(
      `@@ -${oldCount === 0 ? oldStart : oldStart + 1},${oldCount} +${newCount === 0 ? newStart : newStart + 1},${newCount} @@\n`,
    );
    for (const e of hunk) {
      const line = e.kind === 'insert' ? (b[e.b] ?? '') : (a[e.a] ?? '');
      const prefix = e.kind === 'equal' ? ' ' : e.kind === 'insert' ? '+' : '-';
      out.push(prefix + line + (line.endsWith('\n') ? '' : '\n\\ No newline at end of file\n'));
    }
    i = end;
  }
  return out.join('');
}

/**
 * Carries the edits that turned `rendered` into `edited` (two renderings of one YAML document, before
 * and after our changes) onto `source`, the document's own text, whose formatting the renderer may
 * not reproduce exactly. Every changed stretch of `rendered` must sit between lines that `source` has
 * too; otherwise returns undefined and the caller falls back to `edited` itself.
 */
export function spliceEdits(source: string, rendered: string, edited: string): string | undefined {
  const s = splitLines(source);
  const r = splitLines(rendered);
  const e = splitLines(edited);
  // Where each rendered line is in the source, for the lines the two share.
  const inSource = new Array<number | undefined>(r.length).fill(undefined);
  for (const edit of diffLines(r, s)) if (edit.kind === 'equal') inSource[edit.a] = edit.b;

  const out: string[] = [];
  let sourceAt = 0; // next source line not yet copied
  const edits = diffLines(r, e);
  let i = 0;
  while (i < edits.length) {
    const edit = edits[i];
    if (edit === undefined) break;
    if (edit.kind === 'equal') {
      i++;
      continue;
    }
    // A changed stretch: deletions of rendered lines and insertions of edited ones.
    const deleted: number[] = [];
    const inserted: string[] = [];
    let j = i;
    for (; j < edits.length; j++) {
      const x = edits[j];
      if (x === undefined || x.kind === 'equal') break;
      if (x.kind === 'delete') deleted.push(x.a);
      else inserted.push(e[x.b] ?? '');
    }
    // The rendered line before the stretch anchors it in the source.
    const before = edits.slice(0, i).filter((x) => x.kind !== 'insert');
    const anchor = before.length === 0 ? -1 : (before[before.length - 1] as { a: number }).a;
    let at: number;
    if (anchor < 0) at = 0;
    else {
      const mapped = inSource[anchor];
      if (mapped === undefined) return undefined;
      at = mapped + 1;
    }
    for (const [n, index] of deleted.entries()) if (inSource[index] !== at + n) return undefined;
    if (at < sourceAt) return undefined;
    out.push(...s.slice(sourceAt, at));
    // A source line without its final newline gets one before new lines follow it.
    const previous = out[out.length - 1];
    if (previous !== undefined && !previous.endsWith('\n') && inserted.length > 0)
      out[out.length - 1] = `${previous}\n`;
    out.push(...inserted);
    sourceAt = at + deleted.length;
    i = j;
  }
  out.push(...s.slice(sourceAt));
  return out.join('');
}
