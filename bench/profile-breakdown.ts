/**
 * Where a review's time goes: reads a V8 CPU profile of the webhook under load (`npm run bench --
 * --profile`) and splits its samples into the parts of a review. A sample counts for the innermost
 * frame that names a part, so JSON.parse called by the body parser is "JSON parse" while a JSON copy
 * made inside the engine is "engine".
 *
 * Usage: npx tsx bench/profile-breakdown.ts PROFILE.cpuprofile [--top N]
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export const PARTS = [
  'TLS',
  'HTTP and express',
  'JSON parse',
  'engine: controls and policy',
  'engine: diff (fast-json-patch)',
  'engine: record and audit',
  'JSON serialise',
  'log',
  'metrics',
  'GC',
  'other',
] as const;
/** Idle time and module loading are left out of the shares: neither is part of a review. */
export type Part = (typeof PARTS)[number] | 'idle' | 'start-up';

/** The part a single frame names, or undefined when it names none and its caller decides. */
function partOfFrame(frame: CallFrame): Part | undefined {
  const { functionName: name, url } = frame;
  if (name === '(garbage collector)') return 'GC';
  if (name === '(idle)') return 'idle';
  if (url.includes('fast-json-patch')) return 'engine: diff (fast-json-patch)';
  if (/\/engine\/(record|audit)\//.test(url)) return 'engine: record and audit';
  if (url.includes('/engine/')) return 'engine: controls and policy';
  if (/winston|logform|\/logger\.js|triple-beam|readable-stream/.test(url)) return 'log';
  if (/prom-client|\/metrics\//.test(url)) return 'metrics';
  if (/node:internal\/(modules|bootstrap)|node:internal\/main/.test(url) || name === 'wrapSafe') {
    return 'start-up';
  }
  // V8 folds the JSON builtins into their caller's self time: body-parser's parse is JSON.parse,
  // express's stringify is JSON.stringify of the response.
  if (name === 'parse' && url.includes('body-parser/lib/types/json')) return 'JSON parse';
  if (name === 'stringify' && url.includes('express/lib/response')) return 'JSON serialise';
  // Encryption happens inside the native write of the TLS socket; decryption before onStreamRead.
  if (/_tls_|node:tls|node:internal\/tls/.test(url)) return 'TLS';
  if (url === '' && /^(writeUtf8String|writeBuffer|writev|onStreamRead)$/.test(name)) return 'TLS';
  if (
    /_http_|node:http|node:net|node:stream|node:internal\/streams|express|router|body-parser|raw-body|iconv-lite|on-finished|finalhandler|send|type-is|content-type|\/http\//.test(
      url,
    )
  ) {
    return 'HTTP and express';
  }
  return undefined;
}

/** A bare JSON builtin is its caller's when the caller is the engine, log or metrics, else its own part. */
function builtinPart(frame: CallFrame): Part | undefined {
  if (frame.url !== '') return undefined;
  if (frame.functionName === 'parse') return 'JSON parse';
  if (frame.functionName === 'stringify') return 'JSON serialise';
  return undefined;
}

const CALLER_OWNS_BUILTINS: ReadonlySet<Part> = new Set<Part>([
  'engine: controls and policy',
  'engine: diff (fast-json-patch)',
  'engine: record and audit',
  'log',
  'metrics',
]);

export interface Breakdown {
  /** Requests the profiled process answered (warm-up and measured), to turn time into time per review. */
  readonly requests: number;
  /** Sampled milliseconds per part, idle excluded. */
  readonly ms: Record<(typeof PARTS)[number], number>;
  readonly busyMs: number;
  readonly idleMs: number;
  readonly startUpMs: number;
  /** The functions with the most self time, for the reader who wants to go further. */
  readonly top: readonly { readonly name: string; readonly part: Part; readonly ms: number }[];
}

export function readProfile(file: string): CpuProfile {
  return JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
}

export function breakdown(profile: CpuProfile, requests: number, topCount = 15): Breakdown {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);

  const partCache = new Map<number, Part>();
  const partOf = (id: number): Part => {
    const cached = partCache.get(id);
    if (cached !== undefined) return cached;
    let part: Part = 'other';
    let builtin: Part | undefined;
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
      const node = byId.get(at);
      if (node === undefined) break;
      builtin ??= builtinPart(node.callFrame);
      const named = partOfFrame(node.callFrame);
      if (named !== undefined) {
        part = builtin !== undefined && !CALLER_OWNS_BUILTINS.has(named) ? builtin : named;
        break;
      }
    }
    if (part === 'other' && builtin !== undefined) part = builtin;
    partCache.set(id, part);
    return part;
  };

  const ms = Object.fromEntries(PARTS.map((part) => [part, 0])) as Record<(typeof PARTS)[number], number>;
  const selfMs = new Map<number, number>();
  let idleMs = 0;
  let startUpMs = 0;
  // timeDeltas[i] is the time before sample i; attributing it to sample i is V8's own convention.
  profile.samples.forEach((id, index) => {
    const delta = (profile.timeDeltas[index] ?? 0) / 1000;
    const part = partOf(id);
    if (part === 'idle') idleMs += delta;
    else if (part === 'start-up') startUpMs += delta;
    else ms[part] += delta;
    selfMs.set(id, (selfMs.get(id) ?? 0) + delta);
  });

  const byFunction = new Map<string, { part: Part; ms: number }>();
  for (const [id, spent] of selfMs) {
    const frame = byId.get(id)?.callFrame;
    if (frame === undefined) continue;
    const where = frame.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(dist|src)\//, '$1/');
    const name = `${frame.functionName || '(anonymous)'} ${where}`.trim();
    const entry = byFunction.get(name) ?? { part: partOf(id), ms: 0 };
    entry.ms += spent;
    byFunction.set(name, entry);
  }
  const top = [...byFunction]
    .filter(([, entry]) => entry.part !== 'idle' && entry.part !== 'start-up')
    .sort((a, b) => b[1].ms - a[1].ms)
    .slice(0, topCount)
    .map(([name, entry]) => ({ name, part: entry.part, ms: entry.ms }));
  const busyMs = Object.values(ms).reduce((sum, value) => sum + value, 0);
  return { requests, ms, busyMs, idleMs, startUpMs, top };
}

/** One column per profiled server: µs per review and the share of its busy time, per part. */
export function breakdownTable(columns: readonly { label: string; breakdown: Breakdown }[]): string {
  const cell = (b: Breakdown, spentMs: number): string => {
    const micros = b.requests > 0 ? (spentMs * 1000) / b.requests : Number.NaN;
    const share = b.busyMs > 0 ? (100 * spentMs) / b.busyMs : 0;
    return `${Number.isFinite(micros) ? Math.round(micros).toLocaleString('en-US') : '—'} (${share.toFixed(0)} %)`;
  };
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [
    line(['part of a review (µs per review, share of busy CPU)', ...columns.map((c) => c.label)]),
    line(['---', ...columns.map(() => '---:')]),
    ...PARTS.map((part) => line([part, ...columns.map((c) => cell(c.breakdown, c.breakdown.ms[part]))])),
    line(['**all**', ...columns.map((c) => `**${cell(c.breakdown, c.breakdown.busyMs)}**`)]),
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, ...rest] = process.argv.slice(2);
  if (file === undefined) {
    console.error('usage: npx tsx bench/profile-breakdown.ts PROFILE.cpuprofile [--requests N] [--top N]');
    process.exit(2);
  }
  const option = (flag: string): number | undefined => {
    const at = rest.indexOf(flag);
    return at >= 0 ? Number(rest[at + 1]) : undefined;
  };
  const result = breakdown(readProfile(file), option('--requests') ?? 0, option('--top') ?? 15);
  console.log(breakdownTable([{ label: file.replace(/^.*\//, ''), breakdown: result }]));
  console.log(
    `\nbusy ${result.busyMs.toFixed(0)} ms, start-up ${result.startUpMs.toFixed(0)} ms, idle ${result.idleMs.toFixed(0)} ms\n`,
  );
  for (const entry of result.top) {
    console.log(`${entry.ms.toFixed(1).padStart(8)} ms  ${entry.part.padEnd(32)} ${entry.name}`);
  }
}
