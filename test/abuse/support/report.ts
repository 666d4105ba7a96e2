/** The per-case figures of a run, printed as one table at the end (and written as JSON on request). */
import { writeFileSync } from 'node:fs';
import { MIB } from './server.js';

export interface Row {
  readonly suite: string;
  readonly name: string;
  readonly passed: boolean;
  /** What the hostile request got, e.g. "HTTP 200 allowed=true after 812 ms". */
  readonly answer: string;
  readonly probes?: number;
  readonly probeMaxMs?: number;
  readonly peakRssBytes?: number;
  /** Why the case failed, in one line. */
  readonly problems?: readonly string[];
}

const rows: Row[] = [];

export function record(row: Row): void {
  rows.push(row);
}

export function mib(bytes: number | undefined): string {
  return bytes === undefined ? '—' : `${(bytes / MIB).toFixed(0)} MiB`;
}

export function printSummary(): void {
  if (rows.length === 0) return;
  const lines = ['', 'abuse suite: per-case figures', ''];
  for (const row of rows) {
    const figures = [
      row.answer,
      row.probes === undefined
        ? undefined
        : `normal reviews meanwhile: ${row.probes}, slowest ${Math.round(row.probeMaxMs ?? 0)} ms`,
      row.peakRssBytes === undefined ? undefined : `peak RSS ${mib(row.peakRssBytes)}`,
    ].filter((f) => f !== undefined);
    lines.push(`${row.passed ? 'pass' : 'FAIL'}  ${row.suite}: ${row.name}`);
    lines.push(`      ${figures.join('; ')}`);
    for (const problem of row.problems ?? []) lines.push(`      - ${problem}`);
  }
  const peaks = rows.map((r) => r.peakRssBytes).filter((b): b is number => b !== undefined);
  if (peaks.length > 0) lines.push('', `highest peak RSS of any case: ${mib(Math.max(...peaks))}`);
  lines.push(`${rows.filter((r) => !r.passed).length} of ${rows.length} cases failed`, '');
  process.stdout.write(lines.join('\n') + '\n');
  const file = process.env.ABUSE_REPORT;
  if (file !== undefined && file !== '') writeFileSync(file, JSON.stringify(rows, null, 2) + '\n');
}
