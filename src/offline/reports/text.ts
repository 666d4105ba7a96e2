/** The human report: one block per workload that needs something, then a summary line. */
import type { FileResult, WorkloadReport } from '../harden-file.js';
import type { Mode } from '../../engine/index.js';

function title(w: WorkloadReport): string {
  return `${w.file}:${w.line}: ${w.kind} ${w.namespace}/${w.name}`;
}

function shortValue(value: unknown): string {
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** `looking`: nothing is written (--check, --diff, or a mode that does not patch). */
export function textReport(files: readonly FileResult[], mode: Mode, looking = false): string {
  const out: string[] = [];
  const writes = mode === 'enforce' && !looking;
  const verb = writes ? 'sets' : 'would set';
  let workloads = 0;
  let changed = 0;
  let changes = 0;
  let violations = 0;
  for (const file of files) {
    for (const w of file.workloads) {
      workloads++;
      changes += w.changes.length;
      violations += w.violations.length;
      if (w.changes.length > 0) changed++;
      const lines: string[] = [];
      if (w.outcome === 'skipped') lines.push(`  skipped: ${w.skipReason ?? ''}`);
      if (w.outcome === 'denied') lines.push(`  refused by the webhook: ${w.deniedMessage ?? ''}`);
      if (w.outcome === 'no-pod-template') lines.push('  no pod template: passed through');
      for (const c of w.changes) {
        lines.push(`  ${c.line}: ${verb} ${c.field} = ${shortValue(c.value)} (${c.control})`);
      }
      for (const v of w.violations) {
        lines.push(
          `  ${v.line}: still violates Pod Security restricted: ${v.check} (${v.target}: ${v.detail})`,
        );
      }
      for (const warning of w.warnings) lines.push(`  warning: ${warning}`);
      if (lines.length > 0) out.push(`${title(w)}\n${lines.join('\n')}\n`);
    }
  }
  out.push(
    `${workloads} workload${workloads === 1 ? '' : 's'} in ${files.length} file${files.length === 1 ? '' : 's'}: ` +
      `${changed} ${writes ? 'hardened' : 'not hardened'} (${changes} field${changes === 1 ? '' : 's'}), ` +
      `${violations} residual Pod Security violation${violations === 1 ? '' : 's'}\n`,
  );
  return out.join('');
}
