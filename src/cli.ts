#!/usr/bin/env node
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { USAGE, parseArguments } from './cli/args.js';
import { packageVersion } from './cli/version.js';
import type { Config } from './config/index.js';

const EXIT_USAGE = 2;

/** Resolves with the exit code for commands that finish; `serve` resolves only once it is listening. */
async function main(argv: readonly string[]): Promise<number | undefined> {
  const invocation = parseArguments(argv);
  // Not for serve: the webhook's logs go to stdout, and what a closed stdout means there is its own.
  if (invocation.kind === 'harden' || invocation.kind === 'fn' || invocation.kind === 'audit') {
    quietOnClosedPipe();
  }
  switch (invocation.kind) {
    case 'misuse':
      process.stderr.write(
        invocation.problem === undefined ? USAGE : `pod-hardener: ${invocation.problem}\n\n${USAGE}`,
      );
      return EXIT_USAGE;
    case 'help':
      process.stdout.write(USAGE);
      return 0;
    case 'version':
      process.stdout.write(`${packageVersion()}\n`);
      return 0;
    case 'harden':
      return runHardenCommand(invocation.argv);
    case 'fn':
      return import('./cli/fn.js').then(({ runFn }) =>
        runFn(invocation.argv, {
          stdout: (text) => process.stdout.write(text),
          stderr: (text) => process.stderr.write(text),
          readStdin,
        }),
      );
    case 'audit':
      return import('./cli/audit.js').then(({ runAuditCommand }) => runAuditCommand(invocation.argv));
    case 'serve':
      break;
  }

  // Imported here, not at the top: `harden` must not load express, winston, prom-client or the
  // Kubernetes client (test/cli/harden-dist.test.ts).
  const [
    { ConfigError, loadConfig },
    { createLogger },
    { startServe },
    { exitOnSignals, installCrashHandlers },
  ] = await Promise.all([
    import('./config/index.js'),
    import('./logger.js'),
    import('./serve.js'),
    import('./cli/process-exit.js'),
  ]);
  let config: Config;
  try {
    config = loadConfig({
      argvFlags: invocation.configFlags,
      env: process.env,
      readFile: (file) => readFileSync(file, 'utf8'),
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`pod-hardener: ${err.message}\n`);
      return EXIT_USAGE;
    }
    throw err;
  }

  const logger = createLogger(config.logLevel);
  installCrashHandlers(logger);
  await startServe({ config, logger, onStoppable: exitOnSignals(config, logger) });
  return undefined;
}

async function runHardenCommand(argv: readonly string[]): Promise<number> {
  // The arguments first: help and bad usage answer without loading the engine and yaml.
  const { HARDEN_USAGE, parseHardenArguments } = await import('./cli/harden-args.js');
  const parsed = parseHardenArguments(argv);
  switch (parsed.kind) {
    case 'help':
      process.stdout.write(HARDEN_USAGE);
      return 0;
    case 'misuse':
      process.stderr.write(`pod-hardener harden: ${parsed.problem}\n\n${HARDEN_USAGE}`);
      return EXIT_USAGE;
    case 'harden': {
      const { runHarden } = await import('./cli/harden.js');
      return runHarden(parsed.invocation, {
        stdout: (text) => process.stdout.write(text),
        stderr: (text) => process.stderr.write(text),
        readStdin: readStdin,
        cwd: process.cwd(),
      });
    }
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    // npm links bin entries as symlinks, so compare real paths.
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

/**
 * A reader that stops early (`pod-hardener harden dir | head`) closes the pipe: end quietly, as
 * command-line tools do, rather than with an unhandled EPIPE error and a stack trace.
 */
function quietOnClosedPipe(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(process.exitCode ?? 0);
  });
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).then(
    (code) => {
      if (code !== undefined) process.exitCode = code;
    },
    (err: unknown) => {
      // Start-up failures (unreadable certificate, port in use, no cluster credentials): one clear line.
      process.stderr.write(`pod-hardener: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
