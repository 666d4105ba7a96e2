/**
 * `npm run bench:e2e`: what a user feels. Pod-create latency through a real API server (the e2e
 * control plane: etcd, kube-apiserver, kube-controller-manager from test/e2e/k8s/build.sh), side by
 * side in one run, at several concurrencies, for:
 *
 * - none:          a namespace nobody mutates;
 * - pod-hardener:  an opted-in namespace, the webhook installed from manifests/ and run from dist/;
 * - map:           the native MutatingAdmissionPolicy in bench/e2e-latency/mutating-admission-policy.yaml;
 *
 * and, to show where the time goes:
 *
 * - null-webhook:  a webhook that allows everything without a patch (bench/null-server.js, the same
 *                  HTTPS stack as pod-hardener): the cost of the TLS hop and of a review round trip;
 * - none, stored as pod-hardener / map: the pod exactly as each of them stores it, created where nobody
 *                  mutates it: the API server's cost of the larger object, without any admission work.
 *
 * Every create is a POST of the same 3-container Deployment pod (bench/corpus.ts) over keep-alive HTTPS
 * connections, as many connections as the concurrency, each create timed from request to the end of the
 * response. See README.md, Performance, "Pod-create latency through a real API server".
 *
 * The e2e support code under test/e2e/support is imported as is and never changed from here.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { builtDirectory, CONTROL_PLANE_BUILD } from '../test/e2e/support/builds.js';
import {
  connect,
  createNamespace,
  OPTED_IN,
  waitForControllers,
  type Cluster,
} from '../test/e2e/support/cluster.js';
import { startControlPlane, type ControlPlane } from '../test/e2e/support/control-plane.js';
import { createServingPair } from '../test/e2e/support/pki.js';
import {
  freePort,
  recordPidsIn,
  removeOnInterrupt,
  sleep,
  startProcess,
  waitFor,
  type ManagedProcess,
} from '../test/e2e/support/processes.js';
import { installWebhook } from '../test/e2e/support/webhook.js';
import type { Pod } from '../src/engine/pod/model.js';
import { deploymentPod } from './corpus.js';

const REPO_ROOT = path.resolve(import.meta.dirname, '..');
const RESULTS_DIR = path.join(REPO_ROOT, 'bench/results');
const MAP_FIXTURE = path.join(REPO_ROOT, 'bench/e2e-latency/mutating-admission-policy.yaml');
const MAP_LABEL = 'bench.pod-hardener.io/map';
const NULL_LABEL = 'bench.pod-hardener.io/null-webhook';
const NULL_WEBHOOK = 'bench-null-webhook';
const KYVERNO_LABEL = 'bench.pod-hardener.io/kyverno';
const KYVERNO_BUILD = path.join(REPO_ROOT, 'bench/e2e-latency/kyverno/build.sh');
const KYVERNO_POLICIES = path.join(REPO_ROOT, 'bench/e2e-latency/kyverno/policies.yaml');

const USAGE = `Usage: npm run bench:e2e [-- options]   (builds first; or: npx tsx bench/e2e-latency.ts [options])

Needs the e2e control plane binaries (test/e2e/k8s/build.sh builds them the first time; E2E_BIN_DIR
points at a bin directory instead).

Options:
  --creates N        measured creates per (system, concurrency) cell (default 200)
  --warmup N         creates before each cell's first round, not measured (default 20)
  --rounds N         each cell's creates are split into N rounds, systems rotated between rounds,
                     so that drift on a shared machine falls on every system alike (default 2)
  --concurrency L    comma-separated (default 1,10,50)
  --systems L        comma-separated, from: %SYSTEMS%
                     (default: all but kyverno, which --kyverno adds)
  --kyverno          also Kyverno (bench/e2e-latency/kyverno/build.sh builds it from Go modules the
                     first time, into the e2e cache; minutes to build)
  --keep             keep the run directory (logs of every process, audit log, kubeconfigs)
  --quick            a smoke run: 20 creates, 5 of warm-up, concurrency 1,10
  --help
`;

type SystemId =
  | 'none'
  | 'pod-hardener'
  | 'map'
  | 'kyverno'
  | 'null-webhook'
  | 'none-stored-as-pod-hardener'
  | 'none-stored-as-map';

interface SystemSpec {
  readonly id: SystemId;
  readonly label: string;
  /** The namespace's labels. */
  readonly labels: Record<string, string>;
  /** The system whose stored pod this one creates, unmutated; undefined: the corpus pod. */
  readonly bodyFrom?: SystemId;
}

const SYSTEMS: readonly SystemSpec[] = [
  { id: 'none', label: 'none (namespace not opted in)', labels: {} },
  { id: 'pod-hardener', label: 'pod-hardener', labels: { ...OPTED_IN } },
  { id: 'map', label: 'MutatingAdmissionPolicy', labels: { [MAP_LABEL]: 'true' } },
  { id: 'kyverno', label: 'Kyverno', labels: { [KYVERNO_LABEL]: 'true' } },
  { id: 'null-webhook', label: 'null webhook (allow, no patch)', labels: { [NULL_LABEL]: 'true' } },
  {
    id: 'none-stored-as-pod-hardener',
    label: 'none, pod as pod-hardener stores it',
    labels: {},
    bodyFrom: 'pod-hardener',
  },
  { id: 'none-stored-as-map', label: 'none, pod as the MAP stores it', labels: {}, bodyFrom: 'map' },
];
const SYSTEM_IDS = SYSTEMS.map((s) => s.id);

interface Settings {
  readonly creates: number;
  readonly warmup: number;
  readonly rounds: number;
  readonly concurrency: readonly number[];
  readonly systems: readonly SystemId[];
  readonly keep: boolean;
  /** Build (first time) and run Kyverno; off by default, its first build takes a long while. */
  readonly kyverno: boolean;
}

class UsageError extends Error {}

function positiveInt(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0)
    throw new UsageError(`${name} must be a whole number, got "${text}"`);
  return value;
}

function parseSettings(argv: readonly string[]): Settings | undefined {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      creates: { type: 'string' },
      warmup: { type: 'string' },
      rounds: { type: 'string' },
      concurrency: { type: 'string' },
      systems: { type: 'string' },
      keep: { type: 'boolean' },
      kyverno: { type: 'boolean' },
      quick: { type: 'boolean' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help === true) {
    process.stdout.write(USAGE.replace('%SYSTEMS%', SYSTEM_IDS.join(', ')));
    return undefined;
  }
  const quick = values.quick === true;
  const concurrency = (values.concurrency ?? (quick ? '1,10' : '1,10,50'))
    .split(',')
    .map((c) => positiveInt('--concurrency', c.trim(), 1));
  if (concurrency.some((c) => c < 1)) throw new UsageError('--concurrency: every value must be 1 or more');
  const kyverno = values.kyverno === true || (values.systems ?? '').split(',').includes('kyverno');
  const systems = (values.systems ?? SYSTEM_IDS.filter((id) => kyverno || id !== 'kyverno').join(','))
    .split(',')
    .map((s) => s.trim());
  const unknown = systems.filter((s) => !(SYSTEM_IDS as readonly string[]).includes(s));
  if (unknown.length > 0)
    throw new UsageError(`--systems: unknown ${unknown.join(', ')}; known: ${SYSTEM_IDS.join(', ')}`);
  const rounds = Math.max(1, positiveInt('--rounds', values.rounds, 2));
  const creates = positiveInt('--creates', values.creates, quick ? 20 : 200);
  if (creates < rounds) throw new UsageError('--creates must be at least --rounds');
  return {
    creates,
    warmup: positiveInt('--warmup', values.warmup, quick ? 5 : 20),
    rounds,
    concurrency,
    systems: systems as SystemId[],
    keep: values.keep === true,
    kyverno,
  };
}

// ---------------------------------------------------------------------------------------------------
// The pod and the create call

/**
 * The corpus's typical pod as a ReplicaSet would post it, minus the owner reference (there is no such
 * owner here, and the garbage collector would delete the pods meanwhile). Plain JSON from here on.
 */
function typicalPod(): PlainPod {
  const pod = JSON.parse(JSON.stringify(deploymentPod(3))) as PlainPod;
  return { ...pod, metadata: without(pod.metadata, ['ownerReferences', 'namespace']) };
}

type PlainPod = Record<string, unknown> & { metadata: Record<string, unknown> };

function without(object: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(object).filter(([key]) => !keys.includes(key)));
}

/** A stored pod turned back into something to create: server-set fields removed, generateName kept. */
function asCreateBody(stored: PlainPod): PlainPod {
  const metadata = without(stored.metadata, [
    'name',
    'namespace',
    'uid',
    'resourceVersion',
    'creationTimestamp',
    'managedFields',
    'generation',
  ]);
  return { ...without(stored, ['status']), metadata };
}

interface ApiClient {
  readonly server: URL;
  readonly tls: { readonly ca: string; readonly cert: string; readonly key: string };
}

interface CreateResult {
  readonly ms: number;
  readonly status: number;
  readonly body?: string;
}

function createPodOnce(
  client: ApiClient,
  agent: https.Agent,
  namespace: string,
  body: string,
  keepBody: boolean,
): Promise<CreateResult> {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const request = https.request(
      {
        host: client.server.hostname,
        port: client.server.port,
        method: 'POST',
        path: `/api/v1/namespaces/${namespace}/pods`,
        agent,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          'content-length': Buffer.byteLength(body),
        },
        timeout: 30_000,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
        });
        response.on('end', () => {
          const ms = Number(process.hrtime.bigint() - started) / 1e6;
          const status = response.statusCode ?? 0;
          const text = keepBody || status !== 201 ? Buffer.concat(chunks).toString('utf8') : undefined;
          resolve(text === undefined ? { ms, status } : { ms, status, body: text });
        });
        response.on('error', () => {
          resolve({ ms: Number(process.hrtime.bigint() - started) / 1e6, status: 0 });
        });
      },
    );
    request.on('timeout', () => request.destroy(new Error('timed out')));
    request.on('error', (error) => {
      resolve({ ms: Number(process.hrtime.bigint() - started) / 1e6, status: 0, body: error.message });
    });
    request.end(body);
  });
}

function newAgent(client: ApiClient, connections: number): https.Agent {
  return new https.Agent({
    keepAlive: true,
    maxSockets: connections,
    maxFreeSockets: connections,
    ca: client.tls.ca,
    cert: client.tls.cert,
    key: client.tls.key,
  });
}

/** `count` creates with `concurrency` of them in flight at any time; the latencies in ms and the errors. */
async function createMany(
  client: ApiClient,
  agent: https.Agent,
  namespace: string,
  body: string,
  count: number,
  concurrency: number,
): Promise<{ latencies: number[]; errors: string[] }> {
  const latencies: number[] = [];
  const errors: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      next += 1;
      const result = await createPodOnce(client, agent, namespace, body, false);
      if (result.status === 201) latencies.push(result.ms);
      else errors.push(`${result.status}: ${(result.body ?? '').slice(0, 300)}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, () => worker()));
  return { latencies, errors };
}

// ---------------------------------------------------------------------------------------------------
// Where the CPU goes: /proc of the child processes, and the API server's own metrics

interface CpuSample {
  readonly byProcess: Record<string, number>;
  readonly client: number;
  readonly machine: { readonly busy: number; readonly steal: number; readonly total: number };
}

const CLOCK_TICKS = 100;

function processName(pid: number): string | undefined {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const exe = path.basename(cmdline[0] ?? '');
    if (exe === 'node') {
      if (cmdline.some((arg) => arg.endsWith('null-server.js'))) return 'null-webhook';
      if (cmdline.some((arg) => arg.endsWith('cli.js'))) return 'pod-hardener';
      return undefined;
    }
    return exe;
  } catch {
    return undefined;
  }
}

/** CPU seconds of each direct child (etcd, kube-apiserver, ...), of this process, and of the machine. */
function sampleCpu(): CpuSample {
  const byProcess: Record<string, number> = {};
  if (process.platform === 'linux') {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        if (Number(fields[1]) !== process.pid) continue;
        const name = processName(Number(entry));
        if (name === undefined) continue;
        const seconds = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
        byProcess[name] = (byProcess[name] ?? 0) + seconds;
      } catch {
        // gone meanwhile
      }
    }
  }
  const usage = process.cpuUsage();
  let machine = { busy: 0, steal: 0, total: 0 };
  try {
    const cpu = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = cpu;
    machine = {
      busy: (user + nice + system + irq + softirq) / CLOCK_TICKS,
      steal: steal / CLOCK_TICKS,
      total: (user + nice + system + idle + iowait + irq + softirq + steal) / CLOCK_TICKS,
    };
  } catch {
    // not Linux
  }
  return { byProcess, client: (usage.user + usage.system) / 1e6, machine };
}

/** Sums and counts of the API server's duration histograms that tell where a create's time goes. */
type MetricTotals = Record<string, { sum: number; count: number }>;

const METRIC_PATTERNS: readonly {
  readonly metric: string;
  readonly keep: (labels: string) => string | undefined;
}[] = [
  {
    // The whole request as the API server times it.
    metric: 'apiserver_request_duration_seconds',
    keep: (l) =>
      /verb="POST"/.test(l) && /resource="pods"/.test(l) && /subresource=""/.test(l) ? 'request' : undefined,
  },
  {
    // Every webhook call: TLS, the review's encoding, the webhook's work, decoding and applying the patch.
    metric: 'apiserver_admission_webhook_admission_duration_seconds',
    keep: (l) => {
      const name = /name="([^"]*)"/.exec(l)?.[1];
      return /operation="CREATE"/.test(l) && /type="admit"/.test(l) ? `webhook ${name ?? '?'}` : undefined;
    },
  },
  {
    // The mutating and validating admission phases as a whole (webhooks, policies, built-in plugins).
    metric: 'apiserver_admission_step_admission_duration_seconds',
    keep: (l) => {
      const type = /type="([^"]*)"/.exec(l)?.[1];
      return /operation="CREATE"/.test(l) && /rejected="false"/.test(l)
        ? `admission ${type ?? '?'} phase`
        : undefined;
    },
  },
  {
    // The plugins that run the webhooks and the policies (all of their calls in a create).
    metric: 'apiserver_admission_controller_admission_duration_seconds',
    keep: (l) => {
      const name = /name="([^"]*)"/.exec(l)?.[1];
      return /operation="CREATE"/.test(l) &&
        /rejected="false"/.test(l) &&
        (name === 'MutatingAdmissionPolicy' || name === 'MutatingAdmissionWebhook')
        ? `plugin ${name}`
        : undefined;
    },
  },
  {
    // One evaluation of one mutation of the policy (a create may take several).
    metric: 'apiserver_mutating_admission_policy_check_duration_seconds',
    keep: (l) => (/error_type="no_error"/.test(l) ? 'MAP mutation' : undefined),
  },
  {
    metric: 'etcd_request_duration_seconds',
    keep: (l) => (/operation="create"/.test(l) && /resource="pods"/.test(l) ? 'etcd create' : undefined),
  },
];

function getText(client: ApiClient, urlPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = https.get(
      {
        host: client.server.hostname,
        port: client.server.port,
        path: urlPath,
        ...client.tls,
        timeout: 10_000,
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => {
          if (response.statusCode === 200) resolve(text);
          else reject(new Error(`GET ${urlPath}: ${response.statusCode}`));
        });
      },
    );
    request.on('timeout', () => request.destroy(new Error('timed out')));
    request.on('error', reject);
  });
}

async function scrapeMetrics(client: ApiClient): Promise<MetricTotals> {
  const text = await getText(client, '/metrics');
  const totals: MetricTotals = {};
  for (const line of text.split('\n')) {
    for (const { metric, keep } of METRIC_PATTERNS) {
      for (const suffix of ['_sum', '_count'] as const) {
        if (!line.startsWith(`${metric}${suffix}{`)) continue;
        const close = line.lastIndexOf('}');
        const key = keep(line.slice(metric.length + suffix.length + 1, close));
        if (key === undefined) continue;
        const value = Number(line.slice(close + 1).trim());
        const entry = (totals[key] ??= { sum: 0, count: 0 });
        if (suffix === '_sum') entry.sum += value;
        else entry.count += value;
      }
    }
  }
  return totals;
}

/** Mean ms per call of each histogram over a cell, and how many calls per create. */
function metricDelta(
  before: MetricTotals,
  after: MetricTotals,
  creates: number,
): Record<string, { meanMs: number; perCreate: number }> {
  const out: Record<string, { meanMs: number; perCreate: number }> = {};
  for (const [key, value] of Object.entries(after)) {
    const count = value.count - (before[key]?.count ?? 0);
    const sum = value.sum - (before[key]?.sum ?? 0);
    if (count <= 0) continue;
    out[key] = { meanMs: round((sum / count) * 1000, 3), perCreate: round(count / creates, 2) };
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Statistics and output

function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Nearest-rank percentile. */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] ?? Number.NaN;
}

interface Cell {
  readonly system: SystemId;
  readonly concurrency: number;
  readonly creates: number;
  readonly errors: number;
  readonly errorSamples: readonly string[];
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly meanMs: number;
  readonly maxMs: number;
  readonly createsPerSecond: number;
  /** CPU ms per create of each process (kube-apiserver, etcd, pod-hardener, ...) and of the client. */
  readonly cpuMsPerCreate: Record<string, number>;
  /** Cores used meanwhile by the whole machine and stolen by the hypervisor. */
  readonly machineCores: { readonly busy: number; readonly steal: number };
  readonly apiServerMetrics: Record<string, { meanMs: number; perCreate: number }>;
}

function fmt(value: number | undefined, digits = 1): string {
  if (value === undefined || Number.isNaN(value)) return '—';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function signed(value: number | undefined): string {
  if (value === undefined || Number.isNaN(value)) return '—';
  return value < 0 ? `−${fmt(-value)}` : `+${fmt(value)}`;
}

function table(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  alignRight: readonly boolean[],
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((c, i) => (alignRight[i] === true ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (alignRight[i] === true ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

function labelOf(id: SystemId): string {
  return SYSTEMS.find((s) => s.id === id)?.label ?? id;
}

interface Breakdown {
  readonly concurrency: number;
  /** p50 over "none" of each system, in ms. */
  readonly addedP50Ms: Partial<Record<SystemId, number>>;
  readonly addedP99Ms: Partial<Record<SystemId, number>>;
}

function breakdowns(cells: readonly Cell[], concurrencies: readonly number[]): Breakdown[] {
  return concurrencies.map((concurrency) => {
    const at = (id: SystemId): Cell | undefined =>
      cells.find((c) => c.system === id && c.concurrency === concurrency);
    const base = at('none');
    const addedP50Ms: Partial<Record<SystemId, number>> = {};
    const addedP99Ms: Partial<Record<SystemId, number>> = {};
    for (const cell of cells.filter((c) => c.concurrency === concurrency)) {
      if (base === undefined || cell.system === 'none') continue;
      addedP50Ms[cell.system] = round(cell.p50Ms - base.p50Ms);
      addedP99Ms[cell.system] = round(cell.p99Ms - base.p99Ms);
    }
    return { concurrency, addedP50Ms, addedP99Ms };
  });
}

const REVIEWERS: Partial<Record<SystemId, string>> = {
  'pod-hardener': 'pod-hardener',
  'null-webhook': 'null-webhook',
  kyverno: 'kyverno',
};

function renderMarkdown(report: E2eReport): string {
  const out: string[] = [];
  const m = report.machine;
  out.push(
    `${m.cpuModel}, ${m.cpus} cores, ${m.memoryGiB} GiB, ${m.os}, Node ${m.node}; ${report.startedAt.slice(0, 10)}, commit ${report.git.commit?.slice(0, 12) ?? 'unknown'}${report.git.dirty === true ? ' (with uncommitted changes)' : ''}; load average ${report.loadAverageStart.join(' ')} at the start, ${report.loadAverageEnd.join(' ')} at the end; ${report.seconds} s in all.`,
    '',
    `Pod creates (3-container Deployment pod, ${fmt(report.podBytes / 1024)} KiB of JSON), ${report.settings.creates} measured per cell after ${report.settings.warmup} of warm-up, in ${report.settings.rounds} rounds with the systems rotated; keep-alive HTTPS connections to kube-apiserver, one per concurrent create; everything on loopback on this machine.`,
    '',
  );
  const header = [
    'concurrency',
    'system',
    'p50 ms',
    'p99 ms',
    'mean ms',
    'max ms',
    'creates/s',
    'errors',
    'p50 over none',
    'p99 over none',
    'stored KiB',
    'API server CPU ms/create',
    'webhook CPU ms/create',
  ];
  const rows: string[][] = [];
  const added = breakdowns(report.cells, report.settings.concurrency);
  for (const cell of report.cells) {
    const b = added.find((x) => x.concurrency === cell.concurrency);
    // The process that answers this system's reviews, if one does.
    const reviewer = REVIEWERS[cell.system];
    rows.push([
      String(cell.concurrency),
      labelOf(cell.system),
      fmt(cell.p50Ms),
      fmt(cell.p99Ms),
      fmt(cell.meanMs),
      fmt(cell.maxMs),
      fmt(cell.createsPerSecond, 0),
      String(cell.errors),
      cell.system === 'none' ? '' : signed(b?.addedP50Ms[cell.system]),
      cell.system === 'none' ? '' : signed(b?.addedP99Ms[cell.system]),
      fmt((report.storedBytes[cell.system] ?? Number.NaN) / 1024),
      fmt(cell.cpuMsPerCreate['kube-apiserver']),
      reviewer === undefined ? '' : fmt(cell.cpuMsPerCreate[reviewer] ?? 0, 2),
    ]);
  }
  out.push(
    table(
      header,
      rows,
      header.map((_, i) => i !== 1),
    ),
    '',
  );
  const steal = Math.max(...report.cells.map((c) => c.machineCores.steal));
  out.push(`Hypervisor steal during the cells: at most ${fmt(steal, 2)} cores.`, '');

  out.push('Where the time goes (p50 over none, ms):', '');
  const whereHeader = [
    'concurrency',
    'TLS hop + review round trip (null webhook)',
    'larger object (pod as pod-hardener stores it)',
    'pod-hardener total',
    'pod-hardener review work (rest)',
    'larger object (pod as the MAP stores it)',
    'MAP total',
    'MAP evaluation (rest)',
  ];
  const whereRows = added.map((b) => {
    const a = b.addedP50Ms;
    const rest = (total?: number, ...parts: (number | undefined)[]): number | undefined =>
      total === undefined || parts.some((p) => p === undefined)
        ? undefined
        : round(total - parts.reduce<number>((s, p) => s + (p ?? 0), 0));
    return [
      String(b.concurrency),
      fmt(a['null-webhook']),
      fmt(a['none-stored-as-pod-hardener']),
      fmt(a['pod-hardener']),
      fmt(rest(a['pod-hardener'], a['null-webhook'], a['none-stored-as-pod-hardener'])),
      fmt(a['none-stored-as-map']),
      fmt(a.map),
      fmt(rest(a.map, a['none-stored-as-map'])),
    ];
  });
  out.push(
    table(
      whereHeader,
      whereRows,
      whereHeader.map(() => true),
    ),
    '',
  );

  out.push(
    'As the API server times it (mean ms per call, from its /metrics; calls per create in brackets):',
    '',
  );
  const keys = [...new Set(report.cells.flatMap((c) => Object.keys(c.apiServerMetrics)))].sort();
  const metricHeader = ['concurrency', 'system', ...keys];
  const metricRows = report.cells.map((cell) => [
    String(cell.concurrency),
    labelOf(cell.system),
    ...keys.map((k) => {
      const v = cell.apiServerMetrics[k];
      return v === undefined ? '' : `${fmt(v.meanMs, 2)} (${fmt(v.perCreate, 1)})`;
    }),
  ]);
  out.push(
    table(
      metricHeader,
      metricRows,
      metricHeader.map((_, i) => i !== 1),
    ),
    '',
  );

  out.push('| target | goal | measured | met |', '| --- | --- | --- | --- |');
  for (const t of report.targets)
    out.push(
      `| ${t.target} | ${t.goal} | ${t.measured} | ${t.met === undefined ? '—' : t.met ? 'yes' : '**no**'} |`,
    );
  return out.join('\n');
}

interface Target {
  readonly target: string;
  readonly goal: string;
  readonly measured: string;
  readonly met: boolean | undefined;
}

function checkTargets(cells: readonly Cell[], concurrencies: readonly number[]): Target[] {
  const targets: Target[] = [];
  for (const b of breakdowns(cells, concurrencies)) {
    const ours = b.addedP50Ms['pod-hardener'];
    const map = b.addedP50Ms.map;
    const ours99 = b.addedP99Ms['pod-hardener'];
    const map99 = b.addedP99Ms.map;
    targets.push({
      target: `pod-hardener's added latency, concurrency ${b.concurrency}`,
      goal: "p50 and p99 over none ≤ the MAP's",
      measured: `p50 ${signed(ours)} against ${signed(map)} ms; p99 ${signed(ours99)} against ${signed(map99)} ms`,
      met:
        ours === undefined || map === undefined || ours99 === undefined || map99 === undefined
          ? undefined
          : ours <= map && ours99 <= map99,
    });
  }
  for (const b of breakdowns(cells, concurrencies)) {
    const ours = b.addedP50Ms['pod-hardener'];
    const kyverno = b.addedP50Ms.kyverno;
    const ours99 = b.addedP99Ms['pod-hardener'];
    const kyverno99 = b.addedP99Ms.kyverno;
    if (kyverno === undefined || kyverno99 === undefined) continue;
    targets.push({
      target: `ahead of Kyverno, concurrency ${b.concurrency}`,
      goal: "added p50 and p99 at most half of Kyverno's",
      measured: `p50 ${signed(ours)} against ${signed(kyverno)} ms; p99 ${signed(ours99)} against ${signed(kyverno99)} ms`,
      met:
        ours === undefined || ours99 === undefined
          ? undefined
          : ours <= kyverno / 2 && ours99 <= kyverno99 / 2,
    });
  }
  const errors = cells.reduce((s, c) => s + c.errors, 0);
  targets.push({ target: 'errors, every cell', goal: '0', measured: String(errors), met: errors === 0 });
  return targets;
}

interface E2eReport {
  readonly startedAt: string;
  readonly seconds: number;
  readonly git: { readonly commit: string | undefined; readonly dirty: boolean | undefined };
  readonly machine: { cpuModel: string; cpus: number; memoryGiB: number; os: string; node: string };
  readonly kubernetes: string;
  readonly loadAverageStart: number[];
  readonly loadAverageEnd: number[];
  readonly settings: Settings;
  readonly podBytes: number;
  /** Bytes of the pod as stored (the create response), per system. */
  readonly storedBytes: Partial<Record<SystemId, number>>;
  readonly systems: readonly { id: SystemId; label: string }[];
  readonly cells: readonly Cell[];
  readonly breakdown: readonly Breakdown[];
  readonly targets: readonly Target[];
  readonly kyverno: string;
}

// ---------------------------------------------------------------------------------------------------
// Setting the systems up

/** bench/null-server.js behind a MutatingWebhookConfiguration for namespaces labelled NULL_LABEL. */
async function installNullWebhook(cluster: Cluster, dir: string): Promise<ManagedProcess> {
  const { caPem, serving } = await createServingPair();
  const certFile = path.join(dir, 'null-webhook.crt');
  const keyFile = path.join(dir, 'null-webhook.key');
  writeFileSync(certFile, serving.certPem);
  writeFileSync(keyFile, serving.keyPem, { mode: 0o600 });
  const port = await freePort();
  const child = startProcess(
    'null-webhook',
    process.execPath,
    [
      path.join(REPO_ROOT, 'bench/null-server.js'),
      '--port',
      String(port),
      '--tls-cert',
      certFile,
      '--tls-key',
      keyFile,
    ],
    { dir, cwd: REPO_ROOT },
  );
  await waitFor(
    'null webhook',
    () =>
      new Promise<true | undefined>((resolve) => {
        const request = https.get(
          { host: '127.0.0.1', port, path: '/healthz', rejectUnauthorized: false, timeout: 2000 },
          (r) => {
            r.resume();
            resolve(r.statusCode === 200 ? true : undefined);
          },
        );
        request.on('error', () => {
          resolve(undefined);
        });
      }),
    { timeoutMs: 30_000, process: child },
  );
  const configuration = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: NULL_WEBHOOK },
    webhooks: [
      {
        name: 'null.bench.pod-hardener.io',
        clientConfig: {
          url: `https://127.0.0.1:${port}/mutate`,
          caBundle: Buffer.from(caPem).toString('base64'),
        },
        rules: [
          {
            apiGroups: [''],
            apiVersions: ['v1'],
            operations: ['CREATE'],
            resources: ['pods'],
            scope: 'Namespaced',
          },
        ],
        namespaceSelector: { matchLabels: { [NULL_LABEL]: 'true' } },
        // As pod-hardener's own configuration, so the two hops are alike.
        failurePolicy: 'Fail',
        matchPolicy: 'Equivalent',
        sideEffects: 'None',
        admissionReviewVersions: ['v1'],
        timeoutSeconds: 5,
        reinvocationPolicy: 'IfNeeded',
      },
    ],
  };
  await cluster.kubectlOk(['apply', '-f', '-'], JSON.stringify(configuration));
  return child;
}

/**
 * Kyverno's admission controller, built from Go modules by bench/e2e-latency/kyverno/build.sh and run
 * out of cluster against the same API server (its `--serverIP` mode: the webhook configurations it
 * writes point at 127.0.0.1). Its CRDs and ConfigMaps come from the module's own install manifest,
 * with the webhooks' namespaceSelector narrowed to the namespaces labelled KYVERNO_LABEL, so that no
 * other system's creates pay for a call to Kyverno.
 */
async function installKyverno(
  cluster: Cluster,
  controlPlane: ControlPlane,
  dir: string,
): Promise<ManagedProcess> {
  const [binary, moduleDir] = execFileSync('bash', [KYVERNO_BUILD], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
    .trim()
    .split('\n');
  if (binary === undefined || moduleDir === undefined) throw new Error(`${KYVERNO_BUILD} printed no binary`);
  const install = parseAllDocuments(
    readFileSync(path.join(moduleDir, 'config/install-latest-testing.yaml'), 'utf8'),
  )
    .map(
      (document) =>
        document.toJS() as (Record<string, unknown> & { kind?: string; metadata?: { name?: string } }) | null,
    )
    .filter((manifest) => manifest !== null);
  const crds = install.filter((manifest) => manifest.kind === 'CustomResourceDefinition');
  // Server-side: some of Kyverno's CRDs are too large for kubectl's last-applied annotation.
  await cluster.kubectlOk(
    ['apply', '--server-side', '-f', '-'],
    crds.map((crd) => JSON.stringify(crd)).join('\n'),
  );
  await cluster.kubectlOk(['wait', '--for=condition=Established', '--timeout=60s', 'crd', '--all']);
  await cluster.kubectlOk(['create', 'namespace', 'kyverno']);
  const configMaps = install
    .filter((manifest) => manifest.kind === 'ConfigMap')
    .map((configMap) => {
      if (configMap.metadata?.name !== 'kyverno') return configMap;
      const data = { ...(configMap.data as Record<string, string>) };
      data.webhooks = JSON.stringify({ namespaceSelector: { matchLabels: { [KYVERNO_LABEL]: 'true' } } });
      return { ...configMap, data };
    });
  // The Deployment Kyverno looks itself up in (owner of what it creates); no pod of it ever runs here.
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'kyverno', namespace: 'kyverno' },
    spec: {
      replicas: 0,
      selector: { matchLabels: { app: 'kyverno' } },
      template: {
        metadata: { labels: { app: 'kyverno' } },
        spec: { containers: [{ name: 'kyverno', image: 'kyverno/kyverno:v1.19.1' }] },
      },
    },
  };
  await cluster.kubectlOk(
    ['apply', '-f', '-'],
    [...configMaps, deployment].map((manifest) => JSON.stringify(manifest)).join('\n'),
  );

  const [port, metricsPort, profilePort] = await Promise.all([freePort(), freePort(), freePort()]);
  const child = startProcess(
    'kyverno',
    binary,
    [
      `--kubeconfig=${controlPlane.adminKubeconfig}`,
      `--serverIP=127.0.0.1:${port}`,
      '--webhookServerHost=127.0.0.1',
      `--webhookServerPort=${port}`,
      `--servicePort=${port}`,
      '--caSecretName=kyverno-svc.kyverno.svc.kyverno-tls-ca',
      '--tlsSecretName=kyverno-svc.kyverno.svc.kyverno-tls-pair',
      `--metricsPort=${metricsPort}`,
      `--profilePort=${profilePort}`,
      '--controllerRuntimeMetricsAddress=0',
      // No reports controller runs here to consume admission reports.
      '--admissionReports=false',
      '--autoUpdateWebhooks=true',
      '--generateValidatingAdmissionPolicy=false',
      '--generateMutatingAdmissionPolicy=false',
      '--omitEvents=PolicyApplied,PolicySkipped',
      '--loggingFormat=text',
      '--v=1',
    ],
    {
      dir,
      env: {
        ...process.env,
        KYVERNO_NAMESPACE: 'kyverno',
        KYVERNO_POD_NAME: 'kyverno-bench',
        KYVERNO_DEPLOYMENT: 'kyverno',
        KYVERNO_SVC: 'kyverno-svc',
        KYVERNO_SERVICEACCOUNT_NAME: 'kyverno',
        INIT_CONFIG: 'kyverno',
        METRICS_CONFIG: 'kyverno-metrics',
      },
    },
  );
  await waitFor(
    'Kyverno /health/readiness',
    () =>
      new Promise<true | undefined>((resolve) => {
        const request = https.get(
          { host: '127.0.0.1', port, path: '/health/readiness', rejectUnauthorized: false, timeout: 2000 },
          (r) => {
            r.resume();
            resolve(r.statusCode === 200 ? true : undefined);
          },
        );
        request.on('error', () => {
          resolve(undefined);
        });
      }),
    { timeoutMs: 180_000, intervalMs: 1000, process: child },
  );
  await cluster.kubectlOk(['apply', '-f', KYVERNO_POLICIES]);
  await cluster.kubectlOk([
    'wait',
    '--for=condition=Ready',
    '--timeout=120s',
    'clusterpolicy/add-default-securitycontext',
    'clusterpolicy/add-default-resources',
  ]);
  return child;
}

type Check = (pod: Pod) => string | undefined;

/** The API server defaults an empty pod securityContext; nothing of ours or the MAP's may be there. */
const unmutated: Check = (pod) =>
  pod.spec?.securityContext?.runAsUser === undefined &&
  pod.spec?.volumes?.every((v) => v.name !== 'pod-hardener-tmp') !== false
    ? undefined
    : 'the pod was mutated';

const CHECKS: Record<SystemId, Check> = {
  none: (pod) => unmutated(pod),
  'null-webhook': (pod) => unmutated(pod),
  'pod-hardener': (pod) =>
    pod.metadata?.annotations?.['pod-hardener.io/changes'] !== undefined &&
    pod.spec?.securityContext?.runAsUser === 65532
      ? undefined
      : 'no pod-hardener.io/changes annotation or runAsUser',
  map: (pod) =>
    pod.spec?.securityContext?.runAsUser === 65532 &&
    pod.spec.containers.every((c) => c.securityContext?.capabilities?.drop?.includes('ALL') === true) &&
    pod.spec.volumes?.some((v) => v.name === 'pod-hardener-tmp') === true
      ? undefined
      : 'the MAP defaults are missing',
  kyverno: (pod) =>
    pod.spec?.securityContext?.runAsUser === 1000 &&
    pod.spec.containers.every((c) => c.resources?.requests?.memory !== undefined)
      ? undefined
      : 'the Kyverno sample policies did not apply',
  'none-stored-as-pod-hardener': () => undefined,
  'none-stored-as-map': () => undefined,
};

/** Creates one pod and checks it, retrying while the system is not in effect yet (policies sync in the background). */
async function firstCreate(
  client: ApiClient,
  namespace: string,
  body: string,
  check: Check,
  what: string,
): Promise<string> {
  const agent = newAgent(client, 1);
  try {
    return await waitFor(
      `${what} to take effect`,
      async () => {
        const result = await createPodOnce(client, agent, namespace, body, true);
        if (result.status !== 201) throw new Error(`create: ${result.status} ${result.body ?? ''}`);
        const text = result.body ?? '';
        const problem = check(JSON.parse(text) as Pod);
        if (problem !== undefined) throw new Error(problem);
        return text;
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    );
  } finally {
    agent.destroy();
  }
}

async function deleteAllPods(client: ApiClient, namespace: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const request = https.request(
      {
        host: client.server.hostname,
        port: client.server.port,
        method: 'DELETE',
        path: `/api/v1/namespaces/${namespace}/pods`,
        ...client.tls,
        timeout: 60_000,
      },
      (response) => {
        response.resume();
        response.on('end', () => {
          if (response.statusCode === 200) resolve();
          else reject(new Error(`deleting the pods of ${namespace}: ${response.statusCode}`));
        });
      },
    );
    request.on('error', reject);
    request.end();
  });
}

// ---------------------------------------------------------------------------------------------------

function gitState(): { commit: string | undefined; dirty: boolean | undefined } {
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

const KYVERNO_STATUS =
  'not measured in this run: see README, Performance, "Pod-create latency through a real API server"';

async function main(): Promise<number> {
  let settings: Settings | undefined;
  try {
    settings = parseSettings(process.argv.slice(2));
  } catch (error) {
    if (error instanceof UsageError || (error instanceof TypeError && 'code' in error)) {
      process.stderr.write(`${error.message}\n\n${USAGE.replace('%SYSTEMS%', SYSTEM_IDS.join(', '))}`);
      return 2;
    }
    throw error;
  }
  if (settings === undefined) return 0;
  const started = Date.now();
  const startedAt = new Date(started).toISOString();
  const loadAverageStart = os.loadavg().map((l) => round(l));
  const binDir = builtDirectory(REPO_ROOT, CONTROL_PLANE_BUILD, 'E2E_BIN_DIR');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pod-hardener-bench-e2e-'));
  recordPidsIn(path.join(dir, 'pids'));
  if (!settings.keep) removeOnInterrupt(dir);
  process.stderr.write(`bench:e2e: run directory ${dir}\n`);

  let controlPlane: ControlPlane | undefined;
  const children: ManagedProcess[] = [];
  let webhookStop: (() => Promise<void>) | undefined;
  try {
    controlPlane = await startControlPlane(binDir, dir);
    const cluster = connect(binDir, controlPlane.adminKubeconfig);
    await waitForControllers(cluster);
    const kubernetes =
      (await cluster.kubectlOk(['version', '-o', 'json'])).match(/"gitVersion":\s*"([^"]+)"/g)?.pop() ?? '';
    const client: ApiClient = {
      server: new URL(controlPlane.server),
      tls: {
        ca: controlPlane.pki.ca.certPem,
        cert: controlPlane.pki.admin.certPem,
        key: controlPlane.pki.admin.keyPem,
      },
    };
    const wanted = new Set(settings.systems);
    const need = (id: SystemId): boolean =>
      wanted.has(id) || SYSTEMS.some((s) => wanted.has(s.id) && s.bodyFrom === id);

    // pod-hardener exactly as the e2e suite installs it: the shipped manifests and configuration (log
    // level info, one line per review, as in production), run from dist/.
    if (need('pod-hardener')) {
      const webhook = await installWebhook(cluster, controlPlane, { repoRoot: REPO_ROOT });
      webhookStop = () => webhook.stop();
    }
    if (need('map')) await cluster.kubectlOk(['apply', '-f', MAP_FIXTURE]);
    if (need('null-webhook')) children.push(await installNullWebhook(cluster, dir));
    if (need('kyverno')) children.push(await installKyverno(cluster, controlPlane, dir));

    const podBody = JSON.stringify(typicalPod());
    const namespaces: Partial<Record<SystemId, string>> = {};
    const bodies: Partial<Record<SystemId, string>> = {};
    const storedPods: Partial<Record<SystemId, string>> = {};
    const storedBytes: Partial<Record<SystemId, number>> = {};
    const order = SYSTEMS.filter((s) => need(s.id)).sort(
      (a, b) => (a.bodyFrom === undefined ? 0 : 1) - (b.bodyFrom === undefined ? 0 : 1),
    );
    for (const system of order) {
      const namespace = await createNamespace(cluster, `bench-${system.id}`.slice(0, 40), {
        labels: system.labels,
      });
      await cluster.core.createNamespacedServiceAccount({
        namespace,
        body: { metadata: { name: 'checkout' } },
      });
      namespaces[system.id] = namespace;
      const from = system.bodyFrom;
      const body =
        from === undefined
          ? podBody
          : JSON.stringify(asCreateBody(JSON.parse(storedPods[from] ?? '{}') as PlainPod));
      bodies[system.id] = body;
      const stored = await firstCreate(client, namespace, body, CHECKS[system.id], system.label);
      storedPods[system.id] = stored;
      storedBytes[system.id] = Buffer.byteLength(stored);
      process.stderr.write(
        `bench:e2e: ${system.label} ready in ${namespace} (stored pod ${storedBytes[system.id]} bytes)\n`,
      );
    }

    const systems = SYSTEMS.filter((s) => wanted.has(s.id));
    const cells: Cell[] = [];
    for (const concurrency of settings.concurrency) {
      const latencies = new Map<SystemId, number[]>();
      const errors = new Map<SystemId, string[]>();
      const cpu = new Map<SystemId, Record<string, number>>();
      const machine = new Map<SystemId, { busy: number; steal: number; seconds: number }>();
      const metrics = new Map<SystemId, Record<string, { sum: number; count: number }>>();
      const elapsed = new Map<SystemId, number>();
      const agents = new Map<SystemId, https.Agent>();
      for (const system of systems) {
        const agent = newAgent(client, concurrency);
        agents.set(system.id, agent);
        await createMany(
          client,
          agent,
          namespaces[system.id] ?? '',
          bodies[system.id] ?? '',
          settings.warmup,
          concurrency,
        );
      }
      for (let pass = 0; pass < settings.rounds; pass++) {
        const count =
          Math.floor(settings.creates / settings.rounds) +
          (pass < settings.creates % settings.rounds ? 1 : 0);
        const rotated = systems
          .map((_, i) => systems[(i + pass) % systems.length])
          .filter((s) => s !== undefined);
        for (const system of rotated) {
          const agent = agents.get(system.id);
          if (agent === undefined) continue;
          const metricsBefore = await scrapeMetrics(client);
          const before = sampleCpu();
          const t0 = process.hrtime.bigint();
          const result = await createMany(
            client,
            agent,
            namespaces[system.id] ?? '',
            bodies[system.id] ?? '',
            count,
            concurrency,
          );
          const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
          const after = sampleCpu();
          const metricsAfter = await scrapeMetrics(client);
          latencies.set(system.id, [...(latencies.get(system.id) ?? []), ...result.latencies]);
          errors.set(system.id, [...(errors.get(system.id) ?? []), ...result.errors]);
          elapsed.set(system.id, (elapsed.get(system.id) ?? 0) + seconds);
          const cpuTotals = cpu.get(system.id) ?? {};
          for (const [name, value] of Object.entries(after.byProcess)) {
            cpuTotals[name] = (cpuTotals[name] ?? 0) + value - (before.byProcess[name] ?? 0);
          }
          cpuTotals.client = (cpuTotals.client ?? 0) + after.client - before.client;
          cpu.set(system.id, cpuTotals);
          const m = machine.get(system.id) ?? { busy: 0, steal: 0, seconds: 0 };
          m.busy += after.machine.busy - before.machine.busy;
          m.steal += after.machine.steal - before.machine.steal;
          m.seconds += seconds;
          machine.set(system.id, m);
          const metricTotals = metrics.get(system.id) ?? {};
          for (const [key, value] of Object.entries(metricsAfter)) {
            const entry = (metricTotals[key] ??= { sum: 0, count: 0 });
            entry.sum += value.sum - (metricsBefore[key]?.sum ?? 0);
            entry.count += value.count - (metricsBefore[key]?.count ?? 0);
          }
          metrics.set(system.id, metricTotals);
          process.stderr.write(
            `bench:e2e: concurrency ${concurrency}, round ${pass + 1}/${settings.rounds}, ${system.label}: ${result.latencies.length} creates in ${round(seconds)} s, ${result.errors.length} errors\n`,
          );
        }
      }
      for (const agent of agents.values()) agent.destroy();
      for (const system of systems) {
        const sorted = [...(latencies.get(system.id) ?? [])].sort((a, b) => a - b);
        const errorList = errors.get(system.id) ?? [];
        const creates = sorted.length + errorList.length;
        const cpuTotals = cpu.get(system.id) ?? {};
        const m = machine.get(system.id) ?? { busy: 0, steal: 0, seconds: 1 };
        cells.push({
          system: system.id,
          concurrency,
          creates: sorted.length,
          errors: errorList.length,
          errorSamples: [...new Set(errorList)].slice(0, 5),
          p50Ms: round(percentile(sorted, 50)),
          p90Ms: round(percentile(sorted, 90)),
          p99Ms: round(percentile(sorted, 99)),
          meanMs: round(sorted.reduce((s, v) => s + v, 0) / Math.max(1, sorted.length)),
          maxMs: round(sorted.at(-1) ?? Number.NaN),
          createsPerSecond: round(creates / (elapsed.get(system.id) ?? 1), 1),
          cpuMsPerCreate: Object.fromEntries(
            Object.entries(cpuTotals)
              .filter(([, v]) => v > 0)
              .map(([k, v]) => [k, round((v * 1000) / Math.max(1, creates), 3)]),
          ),
          machineCores: { busy: round(m.busy / m.seconds), steal: round(m.steal / m.seconds) },
          apiServerMetrics: metricDelta({}, metrics.get(system.id) ?? {}, Math.max(1, creates)),
        });
      }
      // Keep the store small and alike for the next concurrency: no kubelet, so deletion is immediate.
      for (const system of systems) await deleteAllPods(client, namespaces[system.id] ?? '');
      await sleep(2000);
    }

    const report: E2eReport = {
      startedAt,
      seconds: Math.round((Date.now() - started) / 1000),
      git: gitState(),
      machine: {
        cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
        cpus: os.cpus().length,
        memoryGiB: Math.round(os.totalmem() / 2 ** 30),
        os: `${os.type()} ${os.release()} ${os.arch()}`,
        node: process.version,
      },
      kubernetes: kubernetes.replace(/.*"(v[^"]+)"/, '$1'),
      loadAverageStart,
      loadAverageEnd: os.loadavg().map((l) => round(l)),
      settings,
      podBytes: Buffer.byteLength(podBody),
      storedBytes,
      systems: systems.map((s) => ({ id: s.id, label: s.label })),
      cells,
      breakdown: breakdowns(cells, settings.concurrency),
      targets: checkTargets(cells, settings.concurrency),
      kyverno: wanted.has('kyverno') ? 'measured' : KYVERNO_STATUS,
    };
    const markdown = renderMarkdown(report);
    process.stdout.write(`\n${markdown}\n`);
    await mkdir(RESULTS_DIR, { recursive: true });
    const json = `${JSON.stringify(report, null, 2)}\n`;
    const stamp = startedAt.replace(/[:.]/g, '-');
    await writeFile(path.join(RESULTS_DIR, `e2e-${stamp}.json`), json);
    await writeFile(path.join(RESULTS_DIR, 'e2e-latest.json'), json);
    process.stderr.write(`bench:e2e: wrote bench/results/e2e-${stamp}.json and e2e-latest.json\n`);
    return report.cells.some((c) => c.errors > 0) ? 1 : 0;
  } finally {
    await webhookStop?.().catch(() => undefined);
    for (const child of children) await child.stop();
    await controlPlane?.stop();
    if (settings.keep) process.stderr.write(`bench:e2e: kept ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
    removeOnInterrupt(undefined);
  }
}

process.exitCode = await main();
