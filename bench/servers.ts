/**
 * The servers under test, each a child `node` process on 127.0.0.1: the production build of the webhook
 * (dist/cli.js) and the null server (bench/null-server.js). Every child is registered so that it is
 * killed however the benchmark ends.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const HOST = '127.0.0.1';
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;
const OUTPUT_TAIL_BYTES = 8 * 1024;

export type ServerKind = 'baseline' | 'webhook';
export type LogLevel = 'error' | 'warn' | 'info';

export interface ServerSpec {
  readonly kind: ServerKind;
  /** The webhook's --log-level; the baseline always logs at warn. */
  readonly logLevel: LogLevel;
  /** Extra node options, e.g. --cpu-prof. */
  readonly nodeArgs?: readonly string[];
  /** Pin the server (every thread) to this CPU with taskset. */
  readonly cpu?: number;
  /** Extra environment, e.g. POD_HARDENER_MAX_IN_FLIGHT_BYTES for an experiment. */
  readonly env?: Readonly<Record<string, string>>;
}

export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  readonly certPem: string;
}

/** Linux /proc figures of one process; undefined elsewhere. */
export interface ProcessStats {
  /** VmHWM: the peak resident set size over the process's life. */
  readonly peakRssBytes: number | undefined;
  readonly rssBytes: number | undefined;
  /** User + system CPU time consumed so far. */
  readonly cpuSeconds: number | undefined;
}

const live = new Set<ChildProcess>();

/** Kills every server still running; synchronous, so it can run in an 'exit' handler. */
export function killAllServers(): void {
  for (const child of live) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  live.clear();
}

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/**
 * Pins the benchmark process (the load generator) to `load` and leaves `server` for the servers, so the
 * two never compete for one core; false when that is not possible (fewer than two CPUs, no taskset).
 */
export function pinCpus(load: number): boolean {
  try {
    execFileSync('taskset', ['--all-tasks', '--cpu-list', '--pid', String(load), String(process.pid)], {
      stdio: 'ignore',
    });
    return true;
  } catch {
    return false;
  }
}

/** CPU time the whole machine has spent busy, and stolen by the hypervisor, so far (Linux). */
export function machineCpu(): { busySeconds: number; stealSeconds: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    // cpu  user nice system idle iowait irq softirq steal guest guest_nice
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
    const ticks = ticksPerSecond();
    const busy = [user, nice, system, irq, softirq].reduce<number>((sum, v) => sum + (v ?? 0), 0);
    return { busySeconds: busy / ticks, stealSeconds: (steal ?? 0) / ticks };
  } catch {
    return undefined;
  }
}

export function processStats(pid: number): ProcessStats {
  let peakRssBytes: number | undefined;
  let rssBytes: number | undefined;
  let cpuSeconds: number | undefined;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (field: string): number | undefined => {
      const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
      return match?.[1] === undefined ? undefined : Number(match[1]) * 1024;
    };
    peakRssBytes = kib('VmHWM');
    rssBytes = kib('VmRSS');
    // Fields after the parenthesised command name, which may itself contain spaces.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name and state.
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    if (Number.isFinite(utime) && Number.isFinite(stime)) cpuSeconds = (utime + stime) / ticksPerSecond();
  } catch {
    // Not Linux, or the process is gone: the figures stay unknown.
  }
  return { peakRssBytes, rssBytes, cpuSeconds };
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/** The environment with nothing that would change the webhook's configuration or reach a cluster. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    // NODE_OPTIONS could carry the benchmark's own TypeScript loader into the servers.
    if (key.startsWith('POD_HARDENER_') || key.startsWith('KUBERNETES_') || key === 'NODE_OPTIONS') continue;
    env[key] = value;
  }
  env.NODE_ENV = 'production';
  // Stop at once on SIGTERM instead of waiting for endpoints to drop the pod.
  env.POD_HARDENER_SHUTDOWN_DELAY_SECONDS = '0';
  return env;
}

function healthy(port: number, ca: string): Promise<boolean> {
  return new Promise((resolve) => {
    // Verifies the certificate (its SAN has 127.0.0.1), unlike autocannon, which never does.
    const req = https.get({ host: HOST, port, path: '/healthz', ca, agent: false, timeout: 1_000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => {
      resolve(false);
    });
  });
}

export class ServerProcess {
  private output = '';

  private constructor(
    readonly spec: ServerSpec,
    readonly child: ChildProcess,
    readonly port: number,
  ) {
    const keep = (chunk: Buffer): void => {
      this.output = (this.output + chunk.toString('utf8')).slice(-OUTPUT_TAIL_BYTES);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.on('error', (err) => {
      keep(Buffer.from(`cannot run the server: ${err.message}\n`));
    });
  }

  get pid(): number {
    const { pid } = this.child;
    if (pid === undefined) throw new Error('server process has no pid');
    return pid;
  }

  get url(): string {
    return `https://${HOST}:${this.port}/mutate`;
  }

  /** The last few KiB the server wrote (its stdout only below info level). */
  get outputTail(): string {
    return this.output;
  }

  stats(): ProcessStats {
    return processStats(this.pid);
  }

  static async start(repoRoot: string, spec: ServerSpec, tls: TlsFiles): Promise<ServerProcess> {
    let lastError: Error | undefined;
    // A port found free can be taken before the child binds it; try again with another.
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freePort();
      const args =
        spec.kind === 'webhook'
          ? [
              path.join(repoRoot, 'dist/cli.js'),
              'serve',
              `--port=${port}`,
              `--host=${HOST}`,
              `--tls-cert=${tls.certFile}`,
              `--tls-key=${tls.keyFile}`,
              `--log-level=${spec.logLevel}`,
            ]
          : [
              path.join(repoRoot, 'bench/null-server.js'),
              `--port=${port}`,
              `--host=${HOST}`,
              `--tls-cert=${tls.certFile}`,
              `--tls-key=${tls.keyFile}`,
            ];
      const command = [process.execPath, ...(spec.nodeArgs ?? []), ...args];
      // taskset execs node, so the child's pid is the server's.
      if (spec.cpu !== undefined) command.unshift('taskset', '--cpu-list', String(spec.cpu));
      const [file = process.execPath, ...rest] = command;
      const child = spawn(file, rest, {
        cwd: repoRoot,
        env: { ...childEnv(), ...spec.env },
        // At info level the webhook writes a JSON line per review; /dev/null takes them without making
        // the benchmark process (which is also the load generator) read them.
        stdio: ['ignore', spec.logLevel === 'info' ? 'ignore' : 'pipe', 'pipe'],
      });
      live.add(child);
      const server = new ServerProcess(spec, child, port);
      try {
        await server.waitUntilHealthy(tls.certPem);
        return server;
      } catch (err) {
        lastError = err instanceof Error ? err : new Error(String(err));
        await server.stop();
        if (!server.outputTail.includes('EADDRINUSE')) break;
      }
    }
    throw lastError ?? new Error('server did not start');
  }

  private async waitUntilHealthy(ca: string): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(
          `${this.spec.kind} exited during start-up (${this.child.exitCode ?? this.child.signalCode ?? '?'}):\n` +
            this.output,
        );
      }
      if (await healthy(this.port, ca)) return;
      await sleep(100);
    }
    throw new Error(
      `${this.spec.kind} did not answer /healthz within ${START_TIMEOUT_MS} ms:\n${this.output}`,
    );
  }

  /** SIGTERM, then SIGKILL if it has not exited within a few seconds. */
  async stop(): Promise<void> {
    const { child } = this;
    // No pid: the process never started, and will send no 'exit'.
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const patience = new AbortController();
      const gaveUp = sleep(STOP_TIMEOUT_MS, true, { signal: patience.signal }).catch(() => false);
      if (await Promise.race([exited.then(() => false), gaveUp])) {
        child.kill('SIGKILL');
        await exited;
      }
      patience.abort();
    }
    live.delete(child);
  }
}
