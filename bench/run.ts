/**
 * `npm run bench`: admission throughput, latency, CPU and memory of the production build against a null
 * server on the same HTTPS stack, in the same run, plus the engine's cost per pod size. See README.md,
 * "Performance", and USAGE below.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { writeSelfSignedCertificate } from '../src/tls/self-signed.js';
import {
  BURST_IDS,
  burstSpecs,
  deploymentNodeOptions,
  idleRss,
  runBurstCell,
  type BurstCell,
} from './burst.js';
import { buildCorpus, CORPUS_IDS, reviewBytes } from './corpus.js';
import { DEFAULT_ENGINE_OPTIONS, fitLinear, runEngineBench, type EngineResult } from './engine.js';
import { runLoad, stopLoad } from './load.js';
import { e2eTargetRows, readE2eSummary } from './e2e-summary.js';
import { breakdown, readProfile } from './profile-breakdown.js';
import { checkTargets, renderMarkdown, type BenchReport, type HttpCell, type RunSettings } from './report.js';
import {
  killAllServers,
  machineCpu,
  pinCpus,
  ServerProcess,
  type ServerSpec,
  type TlsFiles,
} from './servers.js';

const REPO_ROOT = path.resolve(import.meta.dirname, '..');
const RESULTS_DIR = path.join(REPO_ROOT, 'bench/results');
const MIB = 1024 * 1024;
const LOAD_CPU = 0;
const SERVER_CPU = 1;
/** A row during which other processes used more than this many cores is flagged. */
const OTHER_LOAD_WARNING_CORES = 0.1;

/**
 * warn, not info, for the main rows: at warn the webhook writes nothing for a successful review, so the
 * rows measure the review and HTTP path, yet a rejected request or a failure would still be logged and
 * show up in the output. Production's default, info (one JSON line per review), is an extra row.
 */
const MAIN_LOG_LEVEL = 'warn';

const USAGE = `Usage: npm run bench [-- options]     (builds first; or: npx tsx bench/run.ts [options])

Options (flags win over the environment):
  --duration S       BENCH_DURATION_SECONDS    measured seconds per (server, pod) row (default 10)
  --warmup S         BENCH_WARMUP_SECONDS      warm-up seconds before each row (default 2)
  --connections N    BENCH_CONNECTIONS         keep-alive connections (default 10)
  --iterations N     BENCH_ENGINE_ITERATIONS   engine calls timed for the 1-container pod (default 20000)
  --no-info          BENCH_INFO_LOG=0          skip the extra webhook row at log level info
  --no-pin           BENCH_PIN=0               do not pin the load generator to CPU 0 and the servers
                                               to CPU 1 (pinning needs taskset and two CPUs)
  --server-node-options=OPTS  BENCH_SERVER_NODE_OPTIONS
                                               node options for both servers (default: the
                                               Deployment's NODE_OPTIONS), e.g.
                                               --server-node-options='--max-old-space-size=96'
  --only LIST                                  parts to run, comma-separated: engine,
                                               ${[...CORPUS_IDS, ...BURST_IDS].join(', ')}
  --profile                                    servers write V8 CPU profiles to bench/results/profiles/,
                                               and each row prints where its review time went
  --e2e [OPTIONS]                              instead, pod-create latency through a real API server
                                               (bench/e2e-latency.ts; --e2e --help lists its options)
  --quick                                      a smoke run: 1 s rows, 0.5 s warm-up, fewer engine calls
  --help
`;

function positive(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined || text.trim() === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`${name} must be a positive number, got "${text}"`);
  return value;
}

const PARTS: readonly string[] = ['engine', ...CORPUS_IDS, ...BURST_IDS];

function onlyList(text: string | undefined): readonly string[] {
  if (text === undefined) return PARTS;
  const parts = text.split(',').map((p) => p.trim());
  const unknown = parts.filter((p) => !PARTS.includes(p));
  if (unknown.length > 0)
    throw new Error(`--only: unknown ${unknown.join(', ')}; known: ${PARTS.join(', ')}`);
  return parts;
}

class UsageError extends Error {}

function settingsFrom(argv: readonly string[], env: NodeJS.ProcessEnv): RunSettings {
  try {
    return parseSettings(argv, env);
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

function parseSettings(argv: readonly string[], env: NodeJS.ProcessEnv): RunSettings {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      iterations: { type: 'string' },
      'no-info': { type: 'boolean' },
      quick: { type: 'boolean' },
      profile: { type: 'boolean' },
      only: { type: 'string' },
      'no-pin': { type: 'boolean' },
      'server-node-options': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const quick = values.quick === true;
  const iterations = positive(
    'iterations',
    values.iterations ?? env.BENCH_ENGINE_ITERATIONS,
    quick ? 2_000 : DEFAULT_ENGINE_OPTIONS.iterations,
  );
  return {
    durationSeconds: positive('duration', values.duration ?? env.BENCH_DURATION_SECONDS, quick ? 1 : 10),
    warmupSeconds: positive('warmup', values.warmup ?? env.BENCH_WARMUP_SECONDS, quick ? 0.5 : 2),
    connections: Math.round(positive('connections', values.connections ?? env.BENCH_CONNECTIONS, 10)),
    pipelining: 1,
    timeoutSeconds: 10,
    infoLogCell: values['no-info'] !== true && env.BENCH_INFO_LOG !== '0',
    engine: {
      ...DEFAULT_ENGINE_OPTIONS,
      iterations: Math.round(iterations),
      minIterations: Math.min(DEFAULT_ENGINE_OPTIONS.minIterations, Math.round(iterations)),
    },
    quick,
    profile: values.profile === true,
    only: onlyList(values.only),
    serverNodeOptions:
      (values['server-node-options'] ?? env.BENCH_SERVER_NODE_OPTIONS) === undefined
        ? deploymentNodeOptions(REPO_ROOT)
        : (values['server-node-options'] ?? env.BENCH_SERVER_NODE_OPTIONS ?? '')
            .split(/\s+/)
            .filter((o) => o !== ''),
    pin: values['no-pin'] !== true && env.BENCH_PIN !== '0' && os.cpus().length >= 2,
  };
}

function gitInfo(): BenchReport['git'] {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    const status = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
    return { commit, dirty: status.trim() !== '' };
  } catch {
    return { commit: undefined, dirty: undefined };
  }
}

const log = (message: string): void => {
  process.stderr.write(`bench: ${message}\n`);
};

const round = (values: readonly number[]): number[] => values.map((v) => Math.round(v * 100) / 100);

let cleanupDir: string | undefined;
function cleanup(): void {
  stopLoad();
  killAllServers();
  if (cleanupDir !== undefined) rmSync(cleanupDir, { recursive: true, force: true });
  cleanupDir = undefined;
}

/** `--e2e`: the pod-create latency benchmark, a script of its own, with the remaining arguments. */
function runE2e(args: readonly string[]): never {
  const result = spawnSync(
    process.execPath,
    [...process.execArgv, path.join(import.meta.dirname, 'e2e-latency.ts'), ...args],
    { stdio: 'inherit' },
  );
  process.exit(result.status ?? 1);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--e2e')) runE2e(argv.filter((arg) => arg !== '--e2e'));
  const started = Date.now();
  const date = new Date(started).toISOString();
  const settings = settingsFrom(argv, process.env);
  if (!existsSync(path.join(REPO_ROOT, 'dist/cli.js'))) {
    throw new Error('dist/cli.js is missing: run `npm run build` first (`npm run bench` does)');
  }
  const loadAverageStart = round(os.loadavg());
  // Load generator on CPU 0, server on CPU 1: like a webhook pod with one core of its own, and the
  // client never preempts the server it measures.
  const pinned = settings.pin && pinCpus(LOAD_CPU);
  if (settings.pin && !pinned) log('could not pin CPUs (taskset missing?); running unpinned');
  const cpus = os.cpus();

  // Bounded whatever happens: a hung server or client cannot keep the benchmark alive.
  const cells = 2 * settings.only.length + 1;
  const budgetMs = (cells * (settings.durationSeconds + settings.warmupSeconds + 30) + 300) * 1000;
  setTimeout(() => {
    log(`still running after ${budgetMs / 1000} s; giving up`);
    cleanup();
    process.exit(1);
  }, budgetMs).unref();

  const certDir = mkdtempSync(path.join(os.tmpdir(), 'pod-hardener-bench-'));
  cleanupDir = certDir;
  // The same kind of certificate the webhook generates for itself (ECDSA P-256), given to both servers.
  const pair = await writeSelfSignedCertificate(certDir);
  const tls: TlsFiles = { certFile: pair.certFile, keyFile: pair.keyFile, certPem: pair.certPem };

  if (settings.only.includes('engine'))
    log(`engine: ${settings.engine.iterations} calls for 1 container, fewer for larger pods`);
  const engineMachineBefore = machineCpu();
  const engineCpuBefore = process.cpuUsage();
  const engineStarted = Date.now();
  const engineResults: EngineResult[] = settings.only.includes('engine')
    ? await runEngineBench(settings.engine)
    : [];
  const engineCpu = process.cpuUsage(engineCpuBefore);
  const engineMachineAfter = machineCpu();
  const engineOtherCores =
    engineResults.length === 0 || engineMachineBefore === undefined || engineMachineAfter === undefined
      ? undefined
      : Math.max(
          0,
          engineMachineAfter.busySeconds -
            engineMachineBefore.busySeconds -
            (engineCpu.user + engineCpu.system) / 1e6,
        ) /
        ((Date.now() - engineStarted) / 1000);
  const fit = engineResults.length > 1 ? fitLinear(engineResults) : undefined;

  const corpus = buildCorpus().filter((e) => settings.only.includes(e.id));
  const http: HttpCell[] = [];
  let runNumber = 0;
  for (const entry of corpus) {
    const specs: ServerSpec[] = [
      { kind: 'baseline', logLevel: 'warn' },
      { kind: 'webhook', logLevel: MAIN_LOG_LEVEL },
    ];
    if (settings.infoLogCell && entry.id === 'typical') specs.push({ kind: 'webhook', logLevel: 'info' });
    let baselineRps: number | undefined;
    for (const spec of specs) {
      const label = spec.kind === 'baseline' ? 'baseline' : `webhook (log ${spec.logLevel})`;
      log(`${entry.id}: ${label}`);
      const loadAverage1AtStart = Math.round((os.loadavg()[0] ?? 0) * 100) / 100;
      const nodeArgs = [...settings.serverNodeOptions];
      const profileFile = path.join(
        RESULTS_DIR,
        'profiles',
        `${entry.id}-${spec.kind}-${spec.logLevel}-${date.replace(/[:.]/g, '-')}.cpuprofile`,
      );
      if (settings.profile) {
        nodeArgs.push(
          '--cpu-prof',
          `--cpu-prof-dir=${path.dirname(profileFile)}`,
          `--cpu-prof-name=${path.basename(profileFile)}`,
        );
      }
      let cell: Omit<HttpCell, 'profile'> | undefined;
      const server = await ServerProcess.start(
        REPO_ROOT,
        { ...spec, nodeArgs, ...(pinned ? { cpu: SERVER_CPU } : {}) },
        tls,
      );
      try {
        const idleRssMiB = await idleRss(server);
        const common = {
          url: server.url,
          review: entry.review,
          // The baseline answers without a patch by design.
          expectPatch: spec.kind === 'webhook' && entry.expectPatch,
          connections: settings.connections,
          pipelining: settings.pipelining,
          timeoutSeconds: settings.timeoutSeconds,
        };
        const warmup = await runLoad({
          ...common,
          durationSeconds: settings.warmupSeconds,
          runNumber: ++runNumber,
        });
        const before = server.stats();
        const machineBefore = machineCpu();
        const clientBefore = process.cpuUsage();
        const load = await runLoad({
          ...common,
          durationSeconds: settings.durationSeconds,
          runNumber: ++runNumber,
        });
        const clientCpu = process.cpuUsage(clientBefore);
        const machineAfter = machineCpu();
        const after = server.stats();
        if (load.errors > 0 || warmup.errors > 0) {
          log(
            `  ${load.errors + warmup.errors} errors (${[...warmup.mismatchExamples, ...load.mismatchExamples].join('; ')})` +
              (server.outputTail === '' ? '' : `; server output:\n${server.outputTail}`),
          );
        }
        const cpu =
          before.cpuSeconds === undefined || after.cpuSeconds === undefined || load.requests === 0
            ? undefined
            : ((after.cpuSeconds - before.cpuSeconds) * 1e6) / load.requests;
        // Whatever else ran on the machine meanwhile, in cores: what disturbed this row.
        const otherCores =
          machineBefore === undefined ||
          machineAfter === undefined ||
          before.cpuSeconds === undefined ||
          after.cpuSeconds === undefined
            ? undefined
            : Math.max(
                0,
                machineAfter.busySeconds -
                  machineBefore.busySeconds -
                  (after.cpuSeconds - before.cpuSeconds) -
                  (clientCpu.user + clientCpu.system) / 1e6,
              ) / load.durationSeconds;
        const stealCores =
          machineBefore === undefined || machineAfter === undefined
            ? undefined
            : (machineAfter.stealSeconds - machineBefore.stealSeconds) / load.durationSeconds;
        if ((otherCores ?? 0) > OTHER_LOAD_WARNING_CORES || (stealCores ?? 0) > OTHER_LOAD_WARNING_CORES) {
          log(
            `  other processes used ${(otherCores ?? 0).toFixed(2)} cores and the hypervisor stole ` +
              `${(stealCores ?? 0).toFixed(2)} during this row: its figures are disturbed`,
          );
        }
        if (spec.kind === 'baseline') baselineRps = load.requestsPerSecond;
        cell = {
          corpus: entry.id,
          description: entry.description,
          containers: entry.containers,
          requestBytes: reviewBytes(entry.review),
          server: spec.kind,
          logLevel: spec.logLevel,
          label,
          load,
          warmup: { requests: warmup.requests, errors: warmup.errors },
          idleRssMiB,
          peakRssMiB: after.peakRssBytes === undefined ? undefined : after.peakRssBytes / MIB,
          serverCpuMicrosPerRequest: cpu,
          clientCpuMicrosPerRequest:
            load.requests === 0 ? undefined : (clientCpu.user + clientCpu.system) / load.requests,
          ratioToBaseline:
            spec.kind === 'webhook' && baselineRps !== undefined && baselineRps > 0
              ? load.requestsPerSecond / baselineRps
              : undefined,
          loadAverage1AtStart,
          otherCores,
          stealCores,
        };
      } finally {
        await server.stop();
      }
      // The profile is written as the server exits, and covers its warm-up and measured requests.
      const profile =
        settings.profile && existsSync(profileFile)
          ? breakdown(readProfile(profileFile), cell.warmup.requests + cell.load.requests)
          : undefined;
      http.push(profile === undefined ? cell : { ...cell, profile });
    }
  }

  const burst: BurstCell[] = [];
  for (const spec of burstSpecs().filter((b) => settings.only.includes(b.id))) {
    log(`${spec.id}: webhook, ${spec.connections} connections, ${spec.description}`);
    const cell = await runBurstCell(spec, {
      repoRoot: REPO_ROOT,
      tls,
      nodeArgs: settings.serverNodeOptions,
      ...(pinned ? { cpu: SERVER_CPU } : {}),
      durationSeconds: settings.durationSeconds,
      timeoutSeconds: settings.timeoutSeconds,
      runNumber: (runNumber += 2),
    });
    if (!cell.survived) log(`  the server died:\n${cell.serverOutputTail ?? ''}`);
    if (cell.load.errors > 0) log(`  ${cell.load.errors} errors (${cell.load.mismatchExamples.join('; ')})`);
    burst.push(cell);
  }

  const e2e = readE2eSummary(path.join(RESULTS_DIR, 'e2e-latest.json'));
  if (e2e instanceof Error) log(e2e.message);
  const report: BenchReport = {
    schema: 1,
    date,
    git: gitInfo(),
    machine: {
      cpuModel: cpus[0]?.model.trim() ?? 'unknown CPU',
      cores: cpus.length,
      memoryGiB: os.totalmem() / (1024 * MIB),
      platform: `${os.type()} ${os.release()} ${os.arch()}`,
      node: process.version,
      loadAverageStart,
      loadAverageEnd: round(os.loadavg()),
    },
    settings: { ...settings, pin: pinned },
    totalSeconds: (Date.now() - started) / 1000,
    http,
    burst,
    engine: { results: engineResults, fit, otherCores: engineOtherCores },
    ...(e2e === undefined || e2e instanceof Error ? {} : { e2e }),
    targets: [...checkTargets(http, engineResults, fit, burst), ...e2eTargetRows(e2e)],
  };

  await mkdir(RESULTS_DIR, { recursive: true });
  const json = JSON.stringify(report, null, 2) + '\n';
  const file = path.join(RESULTS_DIR, `${date.replace(/[:.]/g, '-')}.json`);
  await writeFile(file, json);
  await writeFile(path.join(RESULTS_DIR, 'latest.json'), json);
  process.stdout.write(renderMarkdown(report));
  log(`wrote ${path.relative(REPO_ROOT, file)} and bench/results/latest.json`);
}

process.on('exit', cleanup);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping the servers`);
    cleanup();
    process.exit(130);
  });
}

main().then(
  () => {
    cleanup();
    // autocannon keeps no handles, but a stray one must not keep the benchmark open.
    process.exit(0);
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`bench: ${err.message}\n\n${USAGE}`);
      cleanup();
      process.exit(2);
    }
    log(err instanceof Error ? (err.stack ?? err.message) : String(err));
    cleanup();
    process.exit(1);
  },
);
