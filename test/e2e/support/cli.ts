/** Runs the built CLI (`node dist/cli.js ...`) as a user would, collecting its output. */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { e2e } from './context.js';

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function runCli(args: readonly string[], options: { readonly cwd?: string } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(e2e().repoRoot, 'dist', 'cli.js'), ...args], {
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** stdout of a run that must succeed. */
export async function cliStdout(args: readonly string[]): Promise<string> {
  const run = await runCli(args);
  if (run.code !== 0) throw new Error(`pod-hardener ${args.join(' ')} exited ${run.code}: ${run.stderr}`);
  return run.stdout;
}
