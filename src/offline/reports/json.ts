/** The machine report: every workload with its changes, skips, violations and warnings. */
import type { FileResult } from '../harden-file.js';
import type { Mode } from '../../engine/index.js';

export function jsonReport(files: readonly FileResult[], mode: Mode, version: string): string {
  const workloads = files.flatMap((f) => f.workloads);
  return `${JSON.stringify(
    {
      apiVersion: 'pod-hardener.io/v1alpha1',
      kind: 'HardenReport',
      tool: { name: 'pod-hardener', version },
      mode,
      summary: {
        files: files.length,
        filesChanged: files.filter((f) => f.output !== f.original).length,
        workloads: workloads.length,
        workloadsChanged: workloads.filter((w) => w.changes.length > 0).length,
        changes: workloads.reduce((n, w) => n + w.changes.length, 0),
        violations: workloads.reduce((n, w) => n + w.violations.length, 0),
      },
      workloads,
    },
    null,
    2,
  )}\n`;
}
