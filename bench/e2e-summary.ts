/**
 * Part 4 of issue 14 (pod-create latency through a real API server) runs apart, in `npm run bench --
 * --e2e` (bench/e2e-latency.ts), because it needs the e2e binaries and minutes of its own. The main
 * benchmark carries that run's figures and targets into its report, named by the run's date and
 * commit, so one table says met or not met for every target.
 */
import { existsSync, readFileSync } from 'node:fs';

export interface E2eTarget {
  readonly target: string;
  readonly goal: string;
  readonly measured: string;
  readonly met: boolean | undefined;
}

interface E2eCell {
  readonly system: string;
  readonly concurrency: number;
  readonly creates: number;
  readonly errors: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** What the main report keeps of the latest e2e run. */
export interface E2eSummary {
  readonly file: string;
  readonly startedAt: string;
  readonly commit: string | undefined;
  readonly cells: readonly E2eCell[];
  readonly targets: readonly E2eTarget[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** undefined when no e2e run was recorded; an Error when the file is there but not an e2e report. */
export function readE2eSummary(file: string): E2eSummary | Error | undefined {
  if (!existsSync(file)) return undefined;
  let report: unknown;
  try {
    report = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    return new Error(`${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!isRecord(report) || !Array.isArray(report.cells) || !Array.isArray(report.targets)) {
    return new Error(`${file}: not a report of bench/e2e-latency.ts`);
  }
  const git = isRecord(report.git) ? report.git : {};
  return {
    file,
    startedAt: typeof report.startedAt === 'string' ? report.startedAt : 'unknown date',
    commit: typeof git.commit === 'string' ? git.commit : undefined,
    cells: (report.cells as E2eCell[]).map(({ system, concurrency, creates, errors, p50Ms, p99Ms }) => ({
      system,
      concurrency,
      creates,
      errors,
      p50Ms,
      p99Ms,
    })),
    targets: report.targets as E2eTarget[],
  };
}

/** The e2e targets as rows of the main targets table, each naming the run it comes from. */
export function e2eTargetRows(
  summary: E2eSummary | Error | undefined,
): { name: string; goal: string; measured: string; met: boolean }[] {
  if (summary === undefined || summary instanceof Error) {
    return [
      {
        name: 'pod-create latency through a real API server (part 4)',
        goal: "pod-hardener's added latency ≤ the native MAP's",
        measured:
          summary === undefined
            ? 'not measured: run `npm run bench -- --e2e`'
            : `not read: ${summary.message}`,
        met: false,
      },
    ];
  }
  const from = ` (e2e run of ${summary.startedAt.slice(0, 16).replace('T', ' ')}, commit ${summary.commit?.slice(0, 7) ?? 'unknown'})`;
  return summary.targets.map((t) => ({
    name: t.target + from,
    goal: t.goal,
    measured: t.measured,
    met: t.met === true,
  }));
}
