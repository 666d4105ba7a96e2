/** Runs the built CLI (`node dist/cli.js ...`) as a user would, collecting its output. */
import path from 'node:path';
import { e2e } from './context.js';
import { runCommand, type CommandResult } from './processes.js';

export type CliRun = CommandResult;

export function runCli(args: readonly string[], options: { readonly cwd?: string } = {}): Promise<CliRun> {
  return runCommand(process.execPath, [path.join(e2e().repoRoot, 'dist', 'cli.js'), ...args], options);
}

/** stdout of a run that must succeed. */
export async function cliStdout(args: readonly string[]): Promise<string> {
  const run = await runCli(args);
  if (run.code !== 0) throw new Error(`pod-hardener ${args.join(' ')} exited ${run.code}: ${run.stderr}`);
  return run.stdout;
}
