#!/usr/bin/env node
import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CONFIG_FILE_ENV, CONFIG_FLAGS, ConfigError, loadConfig, type Config } from './config.js';
import { buildApp } from './http/app.js';
import { createMetrics, type Metrics } from './metrics/index.js';
import { startServer, type RunningServer } from './http/server.js';
import { LOOKUPS_OFF, createRecordSealer } from './engine/index.js';
import type { StoppableNamespaceSource } from './k8s/namespace-source.js';
import { createLogger, type Logger } from './logger.js';
import { servingNames } from './tls/rotation.js';
import { createSealKeyRing } from './tls/seal-keys.js';
import type { SelfManagedTls } from './tls/self-managed.js';
import { writeSelfSignedCertificate } from './tls/self-signed.js';

const EXIT_USAGE = 2;

const USAGE = `Usage: pod-hardener serve [options]
       pod-hardener --help | --version

Kubernetes mutating admission webhook that hardens pods with secure defaults.

Options for serve:
  --port PORT           HTTPS port (default 8443)
  --host ADDRESS        listen on this IP address only (default: every
                        interface)
  --tls-mode MODE       where the serving certificate comes from:
                          files         --tls-cert and --tls-key (the default
                                        when they are given)
                          self-signed   generated for localhost into a temp
                                        dir (the default otherwise)
                          self-managed  a CA and certificate kept in a Secret
                                        of the webhook's namespace, rotated,
                                        and written into the webhook
                                        configuration's caBundle (needs a
                                        cluster and the namespace key)
  --tls-cert FILE       serving certificate (PEM); reloaded when it changes
  --tls-key FILE        its private key (PEM)
  --config FILE         YAML configuration file (or ${CONFIG_FILE_ENV})
  --kubeconfig FILE     cluster for namespace lookups; in a pod the in-cluster
                        account is used, elsewhere lookups are off by default
  --log-level LEVEL     error, warn, info or debug (default info)
  --default-mode MODE   enforce, warn or audit (default enforce)

Every configuration key can also be set as POD_HARDENER_<UPPER_SNAKE_KEY>,
e.g. POD_HARDENER_SHUTDOWN_DELAY_SECONDS=0. Flags beat the environment, which
beats the file.
`;

class UsageError extends Error {}

function version(): string {
  // ../package.json from both src/cli.ts and dist/cli.js.
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version?: string;
  };
  return pkg.version ?? 'unknown';
}

function parseCommandLine(argv: readonly string[]): {
  command: string | undefined;
  flags: Record<string, string | boolean | undefined>;
} {
  const stringFlags = Object.fromEntries(
    [...Object.keys(CONFIG_FLAGS), 'config'].map((name) => [name, { type: 'string' as const }]),
  );
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options: {
        ...stringFlags,
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
      allowPositionals: true,
      strict: true,
    });
    if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1] ?? ''}"`);
    return { command: positionals[0], flags: values };
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

function stringFlags(flags: Record<string, string | boolean | undefined>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(flags).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
  );
}

/** Resolves with the exit code for commands that finish; `serve` resolves only once it is listening. */
async function main(argv: readonly string[]): Promise<number | undefined> {
  let parsed;
  try {
    parsed = parseCommandLine(argv);
  } catch (err) {
    process.stderr.write(`pod-hardener: ${(err as Error).message}\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  if (parsed.flags.help === true) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (parsed.flags.version === true) {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  if (parsed.command !== 'serve') {
    process.stderr.write(
      parsed.command === undefined ? USAGE : `pod-hardener: unknown command "${parsed.command}"\n\n${USAGE}`,
    );
    return EXIT_USAGE;
  }

  let config: Config;
  try {
    config = loadConfig({
      argvFlags: stringFlags(parsed.flags),
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

  await serve(config);
  return undefined;
}

async function serve(config: Config): Promise<void> {
  const logger = createLogger(config.logLevel);
  installCrashHandlers(logger);
  const metrics = createMetrics();

  let stopping = false;
  // Filled in as start-up progresses; the signal handler must cope with any prefix of it.
  const started: { running?: RunningServer; stopNamespaces?: () => void; stopTls?: () => void } = {};

  // Registered before any slow start-up step, so a pod deleted while starting still exits cleanly.
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn('second signal during shutdown; exiting now', { signal });
      process.exit(1);
    }
    stopping = true;
    logger.info('received signal; shutting down', {
      signal,
      delaySeconds: config.shutdownDelaySeconds,
      timeoutSeconds: config.shutdownTimeoutSeconds,
    });
    setTimeout(() => {
      logger.error('shutdown did not finish in time; exiting with requests still in flight', {
        timeoutSeconds: config.shutdownTimeoutSeconds,
      });
      process.exit(1);
    }, config.shutdownTimeoutSeconds * 1000).unref();
    started.stopTls?.();
    void (started.running?.shutdown() ?? Promise.resolve()).then(
      () => {
        started.stopNamespaces?.();
        logger.info('shutdown complete');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error('shutdown failed', { error: err instanceof Error ? err.message : String(err) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  const { certFile, keyFile, generatedDir, selfManaged } = await prepareTls(config, logger, metrics);
  if (selfManaged !== undefined) {
    started.stopTls = () => {
      selfManaged.stop();
    };
  }

  const namespaces = await namespaceSource(config, logger, metrics);
  started.stopNamespaces = () => {
    namespaces.stop();
  };

  const sealKeys = createSealKeyRing();
  const app = buildApp({
    sealer: createRecordSealer(sealKeys.keys),
    settings: config.engine,
    namespaces,
    metrics,
    logger,
    maxBodyBytes: config.maxBodyBytes,
    backPressure: {
      maxInFlightBytes: config.maxInFlightBytes,
      maxReviewWaitSeconds: config.maxReviewWaitSeconds,
    },
    isShuttingDown: () => stopping || (started.running?.isShuttingDown() ?? false),
  });
  const running = await startServer({
    app,
    port: config.port,
    ...(config.host === undefined ? {} : { host: config.host }),
    certFile,
    keyFile,
    reloadIntervalSeconds: config.tlsReloadIntervalSeconds,
    shutdownDelaySeconds: config.shutdownDelaySeconds,
    tlsCipherSuites: config.tlsCipherSuites,
    tlsMinVersion: config.tlsMinVersion,
    onPairLoaded: sealKeys.onPairLoaded,
    logger,
    metrics,
  });
  started.running = running;
  selfManaged?.startLoop(() => running.reloadNow());

  logger.info('pod-hardener listening', {
    version: version(),
    port: running.port,
    cluster: config.cluster.kind,
    defaultMode: config.engine.defaultMode,
    ...(config.configFile === undefined ? {} : { configFile: config.configFile }),
    tls: config.tlsMode,
    certFile,
    maxInFlightBytes: config.maxInFlightBytes,
  });
  if (generatedDir !== undefined) {
    process.stderr.write(
      `pod-hardener: no --tls-cert/--tls-key given; serving a self-signed certificate for localhost.\n` +
        `  certificate: ${certFile}\n` +
        `  try: curl --cacert ${certFile} https://localhost:${running.port}/healthz\n`,
    );
  }
}

/**
 * @kubernetes/client-node costs about 60 MiB of memory once loaded (every API group's models), so it is
 * loaded only when a cluster is configured: never for local runs, the benchmark or the abuse suite.
 */
async function namespaceSource(
  config: Config,
  logger: Logger,
  metrics: Metrics,
): Promise<StoppableNamespaceSource> {
  if (config.cluster.kind === 'off') return { ...LOOKUPS_OFF, stop: () => undefined };
  const { createNamespaceSource } = await import('./k8s/namespace-source.js');
  return createNamespaceSource({
    cluster: config.cluster,
    lookupTimeoutMs: config.namespaceLookupTimeoutMs,
    logger,
    onLookupFailure: () => {
      metrics.namespaceLookupFailures.inc();
    },
    onWatchRestart: () => {
      metrics.namespaceWatchRestarts.inc();
    },
  });
}

interface PreparedTls {
  readonly certFile: string;
  readonly keyFile: string;
  /** self-signed: the temporary directory holding the generated pair. */
  readonly generatedDir?: string;
  /** self-managed: the manager whose loop starts once the server listens. */
  readonly selfManaged?: SelfManagedTls;
}

/** Provides the certificate files the server starts with, according to tlsMode. */
async function prepareTls(config: Config, logger: Logger, metrics: Metrics): Promise<PreparedTls> {
  switch (config.tlsMode) {
    case 'files':
      // loadConfig guarantees both in this mode; checked again so a type, not a comment, says so.
      if (config.tlsCertFile === undefined || config.tlsKeyFile === undefined) {
        throw new Error('tlsMode files needs tlsCertFile and tlsKeyFile');
      }
      return { certFile: config.tlsCertFile, keyFile: config.tlsKeyFile };
    case 'self-signed': {
      const generatedDir = mkdtempSync(path.join(os.tmpdir(), 'pod-hardener-'));
      // The key is a throwaway: remove it however the process ends.
      process.on('exit', () => {
        rmSync(generatedDir, { recursive: true, force: true });
      });
      const files = await writeSelfSignedCertificate(generatedDir);
      return { certFile: files.certFile, keyFile: files.keyFile, generatedDir };
    }
    case 'self-managed': {
      const selfManaged = await startSelfManagedTlsFor(config, logger, metrics);
      return { certFile: selfManaged.certFile, keyFile: selfManaged.keyFile, selfManaged };
    }
  }
}

async function startSelfManagedTlsFor(
  config: Config,
  logger: Logger,
  metrics: Metrics,
): Promise<SelfManagedTls> {
  // loadConfig guarantees both in this mode; checked again so a type, not a comment, says so.
  if (config.cluster.kind === 'off' || config.namespace === undefined) {
    throw new Error('tlsMode self-managed needs cluster access and a namespace');
  }
  const names = servingNames(config.tlsServiceName, config.namespace, config.tlsExtraHosts);
  logger.info('obtaining the TLS certificate from its Secret', {
    secret: `${config.namespace}/${config.tlsSecretName}`,
    webhookConfiguration: config.webhookConfigurationName,
    dir: config.tlsCertDir,
    ...names,
  });
  // Loaded here, not at the top, for the same reason as the namespace source: it needs client-node.
  const [{ startSelfManagedTls }, { loadKubeConfig }] = await Promise.all([
    import('./tls/self-managed.js'),
    import('./k8s/client.js'),
  ]);
  return startSelfManagedTls({
    kubeConfig: loadKubeConfig(config.cluster),
    namespace: config.namespace,
    secretName: config.tlsSecretName,
    webhookConfigurationName: config.webhookConfigurationName,
    certDir: config.tlsCertDir,
    dnsNames: names.dnsNames,
    ipAddresses: names.ipAddresses,
    servingValiditySeconds: config.tlsServingCertValiditySeconds,
    caValiditySeconds: config.tlsCaValiditySeconds,
    intervalSeconds: config.tlsReloadIntervalSeconds,
    logger,
    metrics,
  });
}

function installCrashHandlers(logger: Logger): void {
  // State after an unexpected error is unknown; exiting lets Kubernetes start a clean replacement.
  const crash = (kind: string) => (err: unknown) => {
    logger.error(kind, {
      error: err instanceof Error ? err.message : String(err),
      ...(err instanceof Error && err.stack !== undefined ? { stack: err.stack } : {}),
    });
    process.exit(1);
  };
  process.on('uncaughtException', crash('uncaught exception'));
  process.on('unhandledRejection', crash('unhandled promise rejection'));
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
