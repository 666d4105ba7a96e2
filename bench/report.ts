/** The benchmark's record (written as JSON) and its markdown rendering, with the targets checked. */
import type { BurstCell } from './burst.js';
import type { E2eSummary } from './e2e-summary.js';
import { breakdownTable, type Breakdown } from './profile-breakdown.js';
import type { CorpusId } from './corpus.js';
import type { EngineFit, EngineOptions, EngineResult } from './engine.js';
import type { LoadResult } from './load.js';
import type { LogLevel, ServerKind } from './servers.js';

export interface Machine {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly platform: string;
  readonly node: string;
  /** 1-, 5- and 15-minute load averages when the run started and ended: other work on the machine. */
  readonly loadAverageStart: readonly number[];
  readonly loadAverageEnd: readonly number[];
}

export interface RunSettings {
  readonly durationSeconds: number;
  readonly warmupSeconds: number;
  readonly connections: number;
  readonly pipelining: number;
  readonly timeoutSeconds: number;
  readonly infoLogCell: boolean;
  readonly engine: EngineOptions;
  readonly quick: boolean;
  readonly profile: boolean;
  /** The parts that ran: engine and corpus ids. */
  readonly only: readonly string[];
  /** Load generator on CPU 0, servers on CPU 1. */
  readonly pin: boolean;
  /** Extra node options given to both servers. */
  readonly serverNodeOptions: readonly string[];
}

export interface HttpCell {
  readonly corpus: CorpusId;
  readonly description: string;
  readonly containers: number;
  readonly requestBytes: number;
  readonly server: ServerKind;
  readonly logLevel: LogLevel;
  readonly label: string;
  readonly load: LoadResult;
  readonly warmup: { readonly requests: number; readonly errors: number };
  /** VmRSS a second after start, before any request. */
  readonly idleRssMiB?: number | undefined;
  readonly peakRssMiB: number | undefined;
  /** Server CPU time (user + system) during the measured run, per request. */
  readonly serverCpuMicrosPerRequest: number | undefined;
  /** CPU time of the load generator (this process) during the measured run, per request. */
  readonly clientCpuMicrosPerRequest: number | undefined;
  /** Requests per second relative to the baseline's on the same corpus entry, same run. */
  readonly ratioToBaseline: number | undefined;
  readonly loadAverage1AtStart: number;
  /** CPU used by every other process on the machine during the measured run, in cores. */
  readonly otherCores: number | undefined;
  /** CPU time stolen by the hypervisor during the measured run, in cores. */
  readonly stealCores: number | undefined;
  /** With --profile: the server's sampled CPU time split into the parts of a review. */
  readonly profile?: Breakdown;
}

export interface Target {
  readonly name: string;
  readonly goal: string;
  readonly measured: string;
  readonly met: boolean;
}

export interface BenchReport {
  readonly schema: 1;
  readonly date: string;
  readonly git: { readonly commit: string | undefined; readonly dirty: boolean | undefined };
  readonly machine: Machine;
  readonly settings: RunSettings;
  readonly totalSeconds: number;
  readonly http: readonly HttpCell[];
  /** Standing bursts of large reviews against the webhook alone (bench/burst.ts). */
  readonly burst?: readonly BurstCell[];
  readonly engine: {
    readonly results: readonly EngineResult[];
    readonly fit: EngineFit | undefined;
    /** CPU used by every other process while the engine was timed, in cores. */
    readonly otherCores?: number | undefined;
  };
  /** The latest `npm run bench -- --e2e` run, whose targets are in `targets` too. */
  readonly e2e?: E2eSummary;
  readonly targets: readonly Target[];
}

const fixed = (value: number | undefined, digits: number): string =>
  value === undefined || !Number.isFinite(value) ? '—' : value.toFixed(digits);

const grouped = (value: number | undefined): string =>
  value === undefined || !Number.isFinite(value) ? '—' : Math.round(value).toLocaleString('en-US');

/** Three significant digits at most, no exponent. */
const short = (value: number | undefined): string => {
  if (value === undefined || !Number.isFinite(value)) return '—';
  if (value >= 100) return grouped(value);
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
};

export function bytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(2)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${Math.round(n)} B`;
}

/** The targets of issues 5 and 14, checked against a run. */
export function checkTargets(
  http: readonly HttpCell[],
  engine: readonly EngineResult[],
  fit: EngineFit | undefined,
  burst: readonly BurstCell[] = [],
): Target[] {
  const targets: Target[] = [];
  const typical = http.find((c) => c.corpus === 'typical' && c.server === 'webhook' && c.logLevel !== 'info');
  if (typical) {
    targets.push({
      name: 'webhook throughput, typical pod',
      goal: '≥ 0.7 × baseline, 0 errors',
      measured: `${fixed(typical.ratioToBaseline, 2)} ×, ${typical.load.errors} errors`,
      met: (typical.ratioToBaseline ?? 0) >= 0.7 && typical.load.errors === 0,
    });
  }
  const allErrors =
    http.reduce((sum, c) => sum + c.load.errors, 0) + burst.reduce((sum, c) => sum + c.load.errors, 0);
  targets.push({
    name: 'errors, every HTTP cell (refusals not counted)',
    goal: '0',
    measured: String(allErrors),
    met: allErrors === 0,
  });
  const webhookCells = http.filter((c) => c.server === 'webhook');
  if (webhookCells.length > 0) {
    const worst = webhookCells.reduce((a, b) => (b.load.latencyMs.p99 > a.load.latencyMs.p99 ? b : a));
    targets.push({
      name: 'webhook p99, every steady cell',
      goal: '< 1,000 ms (timeoutSeconds 5)',
      measured: `${fixed(worst.load.latencyMs.p99, 0)} ms (${worst.corpus}, ${worst.label})`,
      met: worst.load.latencyMs.p99 < 1000,
    });
  }
  for (const b of burst) {
    targets.push({
      name: `burst ${b.id}: ${b.description}`,
      goal: 'alive, 0 errors, p99 < 1,000 ms; excess refused (429/503)',
      measured:
        `${b.survived ? 'alive' : '**died**'}, ${b.load.errors} errors, p99 ${fixed(b.load.latencyMs.p99, 0)} ms ` +
        `(reviews answered: ${fixed(b.load.servedLatencyMs.p99, 0)} ms), ${b.load.refusals} of ${b.load.requests} refused`,
      met: b.survived && b.load.errors === 0 && b.load.latencyMs.p99 < 1000,
    });
  }
  const idle = webhookCells
    .map((c) => c.idleRssMiB ?? Number.NaN)
    .concat(burst.map((b) => b.idleRssMiB ?? Number.NaN));
  if (idle.some(Number.isFinite)) {
    const worstIdle = Math.max(...idle.filter(Number.isFinite));
    targets.push({
      name: 'webhook idle RSS (no cluster configured)',
      goal: '< 80 MiB',
      measured: `${fixed(worstIdle, 0)} MiB`,
      met: worstIdle < 80,
    });
  }
  const byContainers = (n: number): EngineResult | undefined => engine.find((r) => r.containers === n);
  const three = byContainers(3);
  if (three) {
    targets.push({
      name: 'engine p99, typical pod (3 containers)',
      goal: '< 500 µs',
      measured: `${short(three.p99Micros)} µs`,
      met: three.p99Micros < 500,
    });
  }
  const hundred = byContainers(100);
  if (hundred) {
    targets.push({
      name: 'engine p99, 100 containers',
      goal: '< 5,000 µs',
      measured: `${short(hundred.p99Micros)} µs`,
      met: hundred.p99Micros < 5000,
    });
  }
  if (fit) {
    targets.push({
      name: 'engine cost linear in containers',
      goal: 'linear fit of the means, r² ≥ 0.98',
      measured: `${short(fit.interceptMicros)} µs + ${short(fit.slopeMicrosPerContainer)} µs × containers, r² ${fit.r2.toFixed(4)}`,
      met: fit.r2 >= 0.98,
    });
  }
  const rss = webhookCells
    .map((c) => c.peakRssMiB ?? Number.NaN)
    .concat(burst.map((b) => b.peakRssMiB ?? Number.NaN));
  if (rss.length > 0) {
    const peak = Math.max(...rss);
    targets.push({
      name: 'webhook peak RSS, every cell, bursts included',
      goal: '< 150 MiB',
      measured: `${fixed(peak, 0)} MiB`,
      met: peak < 150,
    });
  }
  return targets;
}

function table(
  header: readonly string[],
  align: readonly ('l' | 'r')[],
  rows: readonly (readonly string[])[],
): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(align.map((a) => (a === 'r' ? '---:' : '---'))), ...rows.map(line)].join('\n');
}

export function renderMarkdown(report: BenchReport): string {
  const { machine, settings, git } = report;
  const out: string[] = [];
  const commit =
    git.commit === undefined
      ? 'unknown commit'
      : `commit ${git.commit.slice(0, 12)}${git.dirty === true ? ' (with uncommitted changes)' : ''}`;
  out.push(
    `${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB.toFixed(0)} GiB, ${machine.platform}, Node ${machine.node}; ` +
      `${report.date.slice(0, 10)}, ${commit}; load average ${machine.loadAverageStart.map((v) => v.toFixed(2)).join(' ')} ` +
      `at the start, ${machine.loadAverageEnd.map((v) => v.toFixed(2)).join(' ')} at the end; ${Math.round(report.totalSeconds)} s in all.`,
    '',
  );

  if (report.http.length > 0) {
    const pinning = settings.pin ? ', pinned to CPU 0, servers to CPU 1' : '';
    const nodeOptions =
      settings.serverNodeOptions.length > 0
        ? `; servers run with ${settings.serverNodeOptions.join(' ')}`
        : '';
    out.push(
      `HTTP (${settings.connections} keep-alive connections, pipelining ${settings.pipelining}, ` +
        `${settings.durationSeconds} s per row after ${settings.warmupSeconds} s of warm-up; ` +
        `load generator on the same machine${pinning}${nodeOptions}):`,
      '',
    );
    const rows = report.http.map((c, i) => {
      const first = i === 0 || report.http[i - 1]?.corpus !== c.corpus;
      return [
        first ? `${c.description}, ${bytes(c.requestBytes)}` : '',
        c.label,
        grouped(c.load.requestsPerSecond),
        fixed(c.load.latencyMs.p50, 2),
        fixed(c.load.latencyMs.p99, 2),
        fixed(c.load.latencyMs.max, 1),
        String(c.load.errors),
        grouped(c.serverCpuMicrosPerRequest),
        grouped(c.clientCpuMicrosPerRequest),
        fixed(c.idleRssMiB, 0),
        fixed(c.peakRssMiB, 0),
        c.ratioToBaseline === undefined ? '' : `${c.ratioToBaseline.toFixed(2)} ×`,
      ];
    });
    out.push(
      table(
        [
          'pod, request size',
          'server',
          'req/s',
          'p50 ms',
          'p99 ms',
          'max ms',
          'errors',
          'server CPU µs/req',
          'client CPU µs/req',
          'idle RSS MiB',
          'peak RSS MiB',
          'vs baseline',
        ],
        ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
        rows,
      ),
      '',
    );
    const worst = (pick: (c: HttpCell) => number | undefined): string =>
      fixed(Math.max(0, ...report.http.map((c) => pick(c) ?? 0)), 2);
    out.push(
      `Other load during the rows: at most ${worst((c) => c.otherCores)} cores used by other processes, ` +
        `${worst((c) => c.stealCores)} stolen by the hypervisor.`,
      '',
    );
    const profiled = report.http.flatMap((c) =>
      c.profile === undefined ? [] : [{ label: `${c.corpus}, ${c.label}`, breakdown: c.profile }],
    );
    if (profiled.length > 0) {
      out.push(
        'Where the time went (--profile: V8 CPU profile samples of each server, start-up and idle left out; ' +
          'profiling itself slows the servers, so read the shares):',
        '',
        breakdownTable(profiled),
        '',
      );
    }
  }

  const burst = report.burst ?? [];
  if (burst.length > 0) {
    out.push(
      `Bursts (webhook only, ${settings.durationSeconds} s each after 1 s of typical reviews; every connection sends ` +
        'its next review as soon as the last is answered; refusals are 429 or 503 with Retry-After):',
      '',
      table(
        [
          'burst',
          'request size',
          'answers',
          'reviewed',
          'refused',
          'errors',
          'p50 ms',
          'p99 ms',
          'p99 ms, reviewed',
          'max ms',
          'server CPU µs/review',
          'idle RSS MiB',
          'peak RSS MiB',
          'alive',
        ],
        ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
        burst.map((b) => [
          b.description,
          bytes(b.requestBytes),
          grouped(b.load.requests),
          grouped(b.load.served),
          grouped(b.load.refusals),
          String(b.load.errors),
          fixed(b.load.latencyMs.p50, 1),
          fixed(b.load.latencyMs.p99, 1),
          fixed(b.load.servedLatencyMs.p99, 1),
          fixed(b.load.latencyMs.max, 1),
          grouped(b.serverCpuMicrosPerServed),
          fixed(b.idleRssMiB, 0),
          fixed(b.peakRssMiB, 0),
          b.survived ? 'yes' : '**no**',
        ]),
      ),
      '',
    );
  }

  const scale = scaleTable(report);
  if (scale !== undefined) out.push(scale, '');

  if (report.engine.results.length > 0) {
    const other = report.engine.otherCores;
    out.push(
      'Engine only, in process (parseAdmissionReview + reviewAdmission, one call at a time' +
        `${other === undefined ? '' : `; other processes used ${fixed(other, 2)} cores meanwhile`}):`,
      '',
    );
    out.push(
      table(
        [
          'containers',
          'review',
          'ops/s',
          'p50 µs',
          'p99 µs',
          'max µs',
          'mean µs / container',
          'p50 µs with JSON parse + stringify',
          'patch',
          'allocated / call',
        ],
        ['r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
        report.engine.results.map((r) => [
          String(r.containers),
          bytes(r.reviewBytes),
          grouped(r.opsPerSecond),
          short(r.p50Micros),
          short(r.p99Micros),
          short(r.maxMicros),
          short(r.microsPerContainer),
          short(r.withJsonP50Micros),
          bytes(r.patchBytes),
          bytes(r.allocatedBytesPerCall),
        ]),
      ),
      '',
    );
    const { fit } = report.engine;
    if (fit) {
      out.push(
        `Mean cost ≈ ${short(fit.interceptMicros)} µs + ${short(fit.slopeMicrosPerContainer)} µs × containers (r² ${fit.r2.toFixed(4)}).`,
        '',
      );
    }
  }

  if (report.targets.length > 0) {
    out.push(
      table(
        ['target', 'goal', 'measured', 'met'],
        ['l', 'l', 'l', 'l'],
        report.targets.map((t) => [t.name, t.goal, t.measured, t.met ? 'yes' : '**no**']),
      ),
    );
  }
  return out.join('\n') + '\n';
}

/** Pods per second a replica is planned for: half of its one core (Node runs reviews on one thread). */
export const PLANNED_CORE_SHARE = 0.5;

export interface ScaleRow {
  readonly podsPerSecond: number;
  readonly replicas: number;
  readonly cpuRequestMillicores: number;
  readonly coresInUse: number;
}

/**
 * Replicas and CPU requests for N pod creates per second from the measured server CPU per typical
 * review: each replica planned at PLANNED_CORE_SHARE of a core, never fewer than 2 replicas, and a
 * request of what a replica then uses (at least 100m, in steps of 50m).
 */
export function scaleRows(cpuMicrosPerReview: number): ScaleRow[] {
  return [10, 100, 1000].map((n) => {
    const cores = (n * cpuMicrosPerReview) / 1e6;
    const replicas = Math.max(2, Math.ceil(cores / PLANNED_CORE_SHARE));
    const perReplica = (cores / replicas) * 1000;
    return {
      podsPerSecond: n,
      replicas,
      cpuRequestMillicores: Math.max(100, Math.ceil(perReplica / 50) * 50),
      coresInUse: cores,
    };
  });
}

function scaleTable(report: BenchReport): string | undefined {
  const typical = report.http.find(
    (c) => c.corpus === 'typical' && c.server === 'webhook' && c.logLevel !== 'info',
  );
  const cpu = typical?.serverCpuMicrosPerRequest;
  if (cpu === undefined) return undefined;
  const peaks = report.http
    .filter((c) => c.server === 'webhook')
    .map((c) => c.peakRssMiB ?? 0)
    .concat((report.burst ?? []).map((b) => b.peakRssMiB ?? 0));
  const peak = Math.max(...peaks);
  return [
    `Scale on paper, from ${grouped(cpu)} µs of server CPU per typical review (log warn; TLS included) and a peak RSS of ` +
      `${fixed(peak, 0)} MiB in any cell (no cluster configured; the memory is per replica and does not grow with N, ` +
      `back-pressure bounds it). Each replica planned at ${PLANNED_CORE_SHARE * 100}% of one core, at least 2:`,
    '',
    table(
      ['pods created / s', 'cores in use', 'replicas', 'CPU request per replica'],
      ['r', 'r', 'r', 'r'],
      scaleRows(cpu).map((r) => [
        grouped(r.podsPerSecond),
        r.coresInUse.toFixed(2),
        String(r.replicas),
        `${r.cpuRequestMillicores}m`,
      ]),
    ),
  ].join('\n');
}
