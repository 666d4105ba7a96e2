/**
 * The webhook under abuse: the production build (`node dist/cli.js serve`) on 127.0.0.1, a port picked
 * free, a self-signed certificate made for the run, log level warn, no cluster (namespace lookups are
 * off, so every review is treated as opted in, mode enforce) and exactly the Deployment's heap cap,
 * NODE_OPTIONS=--max-old-space-size=160. Its stderr and stdout are kept, so a failing case can show what
 * the server said; the process is killed by PID when the suite ends however it ends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { processStats } from '../../../bench/servers.js';
import { writeSelfSignedCertificate } from '../../../src/tls/self-signed.js';

export const HOST = '127.0.0.1';
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** manifests/base/deployment.yaml sets exactly this (a test checks that it still does). */
export const DEPLOYMENT_NODE_OPTIONS = '--max-old-space-size=160 --max-semi-space-size=4';
/** The container's memory limit in the same Deployment: above it the kernel kills the pod. */
export const DEPLOYMENT_MEMORY_LIMIT_BYTES = 256 * 1024 * 1024;
const START_TIMEOUT_MS = 20_000;
const OUTPUT_KEEP_BYTES = 256 * 1024;
export const MIB = 1024 * 1024;

export interface Tls {
  readonly dir: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly ca: string;
}

let tlsPromise: Promise<Tls> | undefined;

/** One certificate for the whole run (ECDSA P-256 for 127.0.0.1, the kind the server makes itself). */
export function runTls(): Promise<Tls> {
  tlsPromise ??= (async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pod-hardener-abuse-'));
    const pair = await writeSelfSignedCertificate(dir);
    process.once('exit', () => {
      rmSync(dir, { recursive: true, force: true });
    });
    return { dir, certFile: pair.certFile, keyFile: pair.keyFile, ca: pair.certPem };
  })();
  return tlsPromise;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, HOST, () => {
      const address = probe.address();
      probe.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('no free port'));
      });
    });
  });
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    for (const child of live) child.kill('SIGKILL');
    process.exit(130);
  });
}

/** Only what the webhook needs from the suite's environment: nothing that configures it or a cluster. */
function serverEnv(extra: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (
      key.startsWith('POD_HARDENER_') ||
      key.startsWith('KUBERNETES_') ||
      key === 'KUBECONFIG' ||
      key === 'NODE_OPTIONS'
    )
      continue;
    env[key] = value;
  }
  return { ...env, NODE_ENV: 'production', NODE_OPTIONS: DEPLOYMENT_NODE_OPTIONS, ...extra };
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export function describeExit(exit: Exit): string {
  return exit.signal !== null ? `killed by ${exit.signal}` : `exited with code ${exit.code ?? '?'}`;
}

export class WebhookProcess {
  private output = '';
  private outputDropped = 0;
  /** Resolves once the process has exited. */
  readonly exited: Promise<Exit>;
  private exitInfo: Exit | undefined;

  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
    readonly ca: string,
  ) {
    const keep = (chunk: Buffer): void => {
      this.output += chunk.toString('utf8');
      if (this.output.length > OUTPUT_KEEP_BYTES) {
        const cut = this.output.length - OUTPUT_KEEP_BYTES;
        this.outputDropped += cut;
        this.output = this.output.slice(cut);
      }
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        live.delete(child);
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
    });
  }

  get pid(): number {
    const { pid } = this.child;
    if (pid === undefined) throw new Error('the webhook has no pid');
    return pid;
  }

  /** Undefined while the process runs. */
  get exit(): Exit | undefined {
    return this.exitInfo;
  }

  get alive(): boolean {
    return this.exitInfo === undefined;
  }

  /** A mark in the output, so a case can show only what was written since. */
  outputMark(): number {
    return this.outputDropped + this.output.length;
  }

  /** What the server wrote since `mark` (the last `maxChars` of it). */
  outputSince(mark: number, maxChars = 6_000): string {
    const text = this.output.slice(Math.max(0, mark - this.outputDropped));
    return text.length > maxChars ? `[... ${text.length - maxChars} chars]\n${text.slice(-maxChars)}` : text;
  }

  /** VmHWM: the peak resident set size since start or since resetPeakRss(). */
  peakRssBytes(): number | undefined {
    return this.alive ? processStats(this.pid).peakRssBytes : undefined;
  }

  /** User + system CPU seconds used so far. */
  cpuSeconds(): number | undefined {
    return this.alive ? processStats(this.pid).cpuSeconds : undefined;
  }

  rssBytes(): number | undefined {
    return this.alive ? processStats(this.pid).rssBytes : undefined;
  }

  /**
   * Resets VmHWM to the current RSS (Linux: writing 5 to clear_refs), so a case's peak is its own;
   * false where that is not possible, and the peak is then the process's.
   */
  resetPeakRss(): boolean {
    try {
      writeFileSync(`/proc/${this.pid}/clear_refs`, '5');
      return true;
    } catch {
      return false;
    }
  }

  /** GET /healthz on a fresh connection; the status, or undefined when there is no answer in time. */
  healthz(timeoutMs = 2_000): Promise<number | undefined> {
    return new Promise((resolve) => {
      const req = https.get(
        { host: HOST, port: this.port, path: '/healthz', ca: this.ca, agent: false, timeout: timeoutMs },
        (res) => {
          res.resume();
          resolve(res.statusCode);
        },
      );
      req.on('timeout', () => req.destroy());
      req.on('error', () => {
        resolve(undefined);
      });
    });
  }

  static async start(extraEnv: Readonly<Record<string, string>> = {}): Promise<WebhookProcess> {
    const tls = await runTls();
    let lastError: Error | undefined;
    // A port found free can be taken before the child binds it; try another then.
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freePort();
      const child = spawn(
        process.execPath,
        [
          path.join(REPO_ROOT, 'dist/cli.js'),
          'serve',
          `--host=${HOST}`,
          `--port=${port}`,
          `--tls-cert=${tls.certFile}`,
          `--tls-key=${tls.keyFile}`,
          '--log-level=warn',
        ],
        { cwd: REPO_ROOT, env: serverEnv(extraEnv), stdio: ['ignore', 'pipe', 'pipe'] },
      );
      live.add(child);
      const server = new WebhookProcess(child, port, tls.ca);
      const deadline = Date.now() + START_TIMEOUT_MS;
      while (server.alive && Date.now() < deadline) {
        if ((await server.healthz(1_000)) === 200) return server;
        await sleep(100);
      }
      const output = server.outputSince(0);
      await server.kill();
      lastError = new Error(
        `the webhook did not start (${output.includes('EADDRINUSE') ? 'port taken' : 'see output'}):\n${output}`,
      );
      if (!output.includes('EADDRINUSE')) break;
    }
    throw lastError ?? new Error('the webhook did not start');
  }

  async kill(): Promise<Exit> {
    if (this.alive) this.child.kill('SIGKILL');
    return this.exited;
  }

  /** SIGTERM; SIGKILL after `graceMs`. Resolves with the exit and how long it took. */
  async terminate(graceMs: number): Promise<{ exit: Exit; ms: number; forced: boolean }> {
    const started = Date.now();
    if (!this.alive) return { exit: await this.exited, ms: 0, forced: false };
    this.child.kill('SIGTERM');
    let forced = false;
    const timer = setTimeout(() => {
      forced = true;
      this.child.kill('SIGKILL');
    }, graceMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return { exit, ms: Date.now() - started, forced };
  }
}

/**
 * The server's output without the expected noise (a warn line per rejected body), with repeated
 * errors shown once: what to read when a run with thousands of requests fails.
 */
export function notableOutput(text: string, maxLines = 15): string {
  const seen = new Map<string, number>();
  const kept: string[] = [];
  for (const line of text.split('\n')) {
    // Blank lines, and the native frames of V8's fatal-error report (its message says enough).
    if (line.trim() === '' || /^\s*\d+: 0x[0-9a-f]+ /.test(line)) continue;
    let key = line;
    try {
      const entry = JSON.parse(line) as { level?: string; message?: string; error?: string; stack?: string };
      if (entry.level === 'warn' && entry.message === 'rejected admission request') continue;
      key = `${entry.message ?? ''}|${entry.error ?? ''}|${entry.stack?.split('\n')[1] ?? ''}`;
    } catch {
      // Not a log line: V8's fatal error report, or a crash trace. Kept as it is.
    }
    const count = seen.get(key) ?? 0;
    seen.set(key, count + 1);
    if (count === 0 && kept.length < maxLines)
      kept.push(line.length > 700 ? `${line.slice(0, 700)} ...` : line);
  }
  const repeats = [...seen.values()].filter((n) => n > 1).length;
  return (kept.join('\n') || '(nothing)') + (repeats > 0 ? `\n(${repeats} of these were repeated)` : '');
}
