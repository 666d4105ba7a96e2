/**
 * Child processes of the suite (etcd, the API server, the controller manager, the webhook). Each one
 * logs to a file in the run's directory and is stopped by PID; every one still running is killed when
 * the suite ends, fails or is interrupted, so a run never leaves a control plane behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Resolves with the exit code (or signal) once the process has exited. */
  readonly exited: Promise<string>;
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
  /** The last lines of its log, for a failure message. */
  tail(lines?: number): string;
}

const running = new Set<ChildProcess>();
let pidFile: string | undefined;
let detach = false;

/**
 * From now on children start in sessions of their own and outlive this process (`make cluster`):
 * they are no longer killed on exit, only recorded in the PID file for `make cluster-down`.
 */
export function detachChildren(): void {
  detach = true;
}
let runDirectory: string | undefined;

/** Every PID is also written here, so the shell wrapper can kill what a crashed suite left behind. */
export function recordPidsIn(file: string): void {
  pidFile = file;
}

/** The run's temporary directory, removed with the processes when the suite is interrupted. */
export function removeOnInterrupt(dir: string | undefined): void {
  runDirectory = dir;
}

function killAllNow(): void {
  for (const child of running) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  running.clear();
  if (runDirectory !== undefined) rmSync(runDirectory, { recursive: true, force: true });
  runDirectory = undefined;
}

process.once('exit', () => {
  if (!detach) killAllNow();
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    killAllNow();
    process.exit(130);
  });
}

export function startProcess(
  name: string,
  command: string,
  args: readonly string[],
  options: { readonly dir: string; readonly env?: NodeJS.ProcessEnv; readonly cwd?: string },
): ManagedProcess {
  const logFile = path.join(options.dir, `${name}.log`);
  const fd = openSync(logFile, 'a');
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', fd, fd],
    detached: detach,
  });
  if (detach) child.unref();
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  const pid = child.pid;
  running.add(child);
  if (pidFile !== undefined) appendFileSync(pidFile, `${pid}\n`);
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve(signal ?? String(code));
    });
    child.once('error', (error) => {
      running.delete(child);
      resolve(`error: ${error.message}`);
    });
  });
  const tail = (lines = 30): string => {
    try {
      return readFileSync(logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  };
  const stop = async (signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<void> => {
    if (!running.has(child)) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };
  return { name, pid, logFile, exited, stop, tail };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `probe` until it returns a value, failing with the probe's last error and the process's log
 * tail after `timeoutMs`, or at once if the process exits.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  options: { readonly timeoutMs: number; readonly intervalMs?: number; readonly process?: ManagedProcess },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError = '';
  let exitedWith: string | undefined;
  void options.process?.exited.then((code) => (exitedWith = code));
  for (;;) {
    if (exitedWith !== undefined) {
      throw new Error(`${what}: ${options.process?.name} exited (${exitedWith})\n${options.process?.tail()}`);
    }
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${options.timeoutMs} ms waiting for ${what}${lastError ? `: ${lastError}` : ''}` +
          (options.process ? `\n--- ${options.process.name} log ---\n${options.process.tail()}` : ''),
      );
    }
    await sleep(options.intervalMs ?? 250);
  }
}

/** What a short-lived command printed, and its exit code (-1 when a signal ended it). */
export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to its end, with `input` on stdin (empty by default), collecting its output. */
export function runCommand(
  file: string,
  args: readonly string[],
  options: { readonly cwd?: string; readonly input?: string } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}
