/**
 * The `serve` composition root: the metrics, TLS, namespace source, app and server, from a Config. It
 * installs no signal handlers and never exits the process, so a test can start and stop it in process;
 * the CLI adds both around it (src/cli/process-exit.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { packageVersion } from './cli/version.js';
import type { Config } from './config/index.js';
import { LOOKUPS_OFF, createRecordSealer } from './engine/index.js';
import { buildApp } from './http/app.js';
import { createMetrics, type Metrics } from './metrics/index.js';
import { startServer, type RunningServer } from './http/server.js';
import type { StoppableNamespaceSource } from './k8s/namespace-source.js';
import { createLogger, type Logger } from './logger.js';
import { servingNames } from './tls/rotation.js';
import { createSealKeyRing } from './tls/seal-keys.js';
import type { SelfManagedTls } from './tls/self-managed.js';
import { writeSelfSignedCertificate } from './tls/self-signed.js';

export interface ServeOptions {
  readonly config: Config;
  /** Default: JSON lines on stdout at config.logLevel. */
  readonly logger?: Logger;
  /** Where the hint for a generated certificate goes; default stderr, apart from the JSON log lines. */
  readonly notices?: Writable;
  /**
   * Called with `stop` before any slow start-up step, so a pod deleted while it is still starting
   * (generating a certificate, reaching the cluster) can stop cleanly. That stop copes with any prefix
   * of start-up, but start-up itself carries on: the caller is expected to end the process after it.
   */
  readonly onStoppable?: (stop: () => Promise<void>) => void;
}

export interface Serving {
  /** The bound port (the real one when config.port is 0). */
  readonly port: number;
  /** The certificate served at start; with a generated one, the CA a client has to trust. */
  readonly certFile: string;
  /**
   * Readiness turns false, the listener closes after config.shutdownDelaySeconds and in-flight
   * reviews are answered, then the namespace source stops and a generated certificate is removed.
   * No deadline: the caller enforces config.shutdownTimeoutSeconds.
   */
  stop(): Promise<void>;
}

/** Resolves once the server is listening; rejects on a start-up failure (unreadable certificate, port in use). */
export async function startServe(options: ServeOptions): Promise<Serving> {
  const { config } = options;
  const logger = options.logger ?? createLogger(config.logLevel);
  const notices = options.notices ?? process.stderr;
  const metrics = createMetrics();

  let stopping = false;
  // Filled in as start-up progresses; stop() must cope with any prefix of it.
  const started: {
    running?: RunningServer;
    stopNamespaces?: () => void;
    stopTls?: () => void;
    removeGeneratedTls?: () => void;
  } = {};

  let stopped: Promise<void> | undefined;
  // Not async: a stopTls that throws throws to the caller, as it did from the signal handler.
  const stop = (): Promise<void> => {
    if (stopped !== undefined) return stopped;
    stopping = true;
    started.stopTls?.();
    stopped = (started.running?.shutdown() ?? Promise.resolve()).then(() => {
      started.stopNamespaces?.();
      logger.info('shutdown complete');
      started.removeGeneratedTls?.();
    });
    return stopped;
  };
  options.onStoppable?.(stop);

  const { certFile, keyFile, generatedDir, removeGenerated, selfManaged } = await prepareTls(
    config,
    logger,
    metrics,
  );
  if (selfManaged !== undefined) {
    started.stopTls = () => {
      selfManaged.stop();
    };
  }
  if (removeGenerated !== undefined) started.removeGeneratedTls = removeGenerated;

  const namespaces = await namespaceSource(config, logger, metrics);
  started.stopNamespaces = () => {
    namespaces.stop();
  };

  const sealKeys = createSealKeyRing();
  const app = buildApp({
    sealer: createRecordSealer(sealKeys.keys),
    now: Date.now,
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
    version: packageVersion(),
    port: running.port,
    cluster: config.cluster.kind,
    defaultMode: config.engine.defaultMode,
    ...(config.configFile === undefined ? {} : { configFile: config.configFile }),
    tls: config.tlsMode,
    certFile,
    maxInFlightBytes: config.maxInFlightBytes,
  });
  if (generatedDir !== undefined) {
    notices.write(
      `pod-hardener: no --tls-cert/--tls-key given; serving a self-signed certificate for localhost.\n` +
        `  certificate: ${certFile}\n` +
        `  try: curl --cacert ${certFile} https://localhost:${running.port}/healthz\n`,
    );
  }
  return { port: running.port, certFile, stop };
}

/** The Kubernetes client is loaded only when a cluster is configured: never for local runs or the benchmark. */
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
  /** self-signed: removes generatedDir now rather than when the process exits. */
  readonly removeGenerated?: () => void;
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
      const removeAtExit = (): void => {
        rmSync(generatedDir, { recursive: true, force: true });
      };
      process.on('exit', removeAtExit);
      const files = await writeSelfSignedCertificate(generatedDir);
      const removeGenerated = (): void => {
        process.off('exit', removeAtExit);
        removeAtExit();
      };
      return { certFile: files.certFile, keyFile: files.keyFile, generatedDir, removeGenerated };
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
  // Loaded here, not at the top, for the same reason as the namespace source.
  const [{ startSelfManagedTls }, { loadAccess }] = await Promise.all([
    import('./tls/self-managed.js'),
    import('./k8s/kubeconfig.js'),
  ]);
  return startSelfManagedTls({
    access: loadAccess(config.cluster),
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
