import { createHash, X509Certificate } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import type { RequestListener } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import type { Logger } from '../logger.js';
import type { Metrics } from './metrics.js';

export interface StartServerOptions {
  readonly app: RequestListener;
  readonly port: number;
  /** Default: all interfaces. */
  readonly host?: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** How often the certificate and key files are checked for changes (fractions allowed). */
  readonly reloadIntervalSeconds: number;
  /** Also react to fs.watch events on the files' directories (default true); polling always runs. */
  readonly watchDirectories?: boolean;
  /** How long shutdown() keeps serving with readiness false before closing the listener. */
  readonly shutdownDelaySeconds?: number;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

/** reloaded: a new pair is being served. unchanged: the files hold the pair already served. */
export type ReloadResult = 'reloaded' | 'unchanged' | 'failed';

export interface RunningServer {
  /** The bound port (the real one when 0 was asked for). */
  readonly port: number;
  readonly server: https.Server;
  isShuttingDown(): boolean;
  /** Reads the files now and serves them if they changed and form a valid pair. */
  reloadNow(): Promise<ReloadResult>;
  /**
   * Graceful stop: readiness turns false, new responses ask clients to reconnect elsewhere, after the
   * delay the listener closes, idle keep-alive connections are closed, and the promise resolves once
   * every in-flight request has finished. Never exits the process; the caller enforces a deadline.
   */
  shutdown(): Promise<void>;
  /** Immediate stop: drops every connection, in flight or not. */
  close(): Promise<void>;
}

const MIN_TLS_VERSION = 'TLSv1.2';
// Several fs.watch events arrive for one kubelet secret update (temp dir, ..data symlink swap, old dir
// removal); one reload after they settle is enough, and mid-swap states are never read.
const WATCH_DEBOUNCE_MS = 200;
// The API server's webhook client keeps idle connections for 90 s. A shorter server-side timeout means
// we sometimes close a connection just as the client reuses it, and that admission request fails.
const KEEP_ALIVE_TIMEOUT_MS = 95_000;
const HEADERS_TIMEOUT_MS = 15_000;
// A webhook call cannot take longer than 30 s (the maximum timeoutSeconds), so neither can its request.
const REQUEST_TIMEOUT_MS = 30_000;
// While draining, connections whose in-flight request just finished become idle and are closed on the
// next sweep, so a client that keeps its connection open cannot hold the shutdown back.
const IDLE_SWEEP_MS = 100;

interface Pair {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly digest: string;
}

async function readPair(certFile: string, keyFile: string): Promise<Pair> {
  const [cert, key] = await Promise.all([readFile(certFile), readFile(keyFile)]);
  const digest = createHash('sha256').update(cert).update('\0').update(key).digest('hex');
  return { cert, key, digest };
}

function secureOptions(pair: Pair): tls.SecureContextOptions {
  return { cert: pair.cert, key: pair.key, minVersion: MIN_TLS_VERSION };
}

/** stat follows symlinks, so a swapped kubelet `..data` link shows up as a different inode. */
async function fileStamp(file: string): Promise<string> {
  try {
    const s = await stat(file, { bigint: true });
    return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
  } catch (err) {
    return `error:${(err as NodeJS.ErrnoException).code ?? 'unknown'}`;
  }
}

function certificateSummary(pem: Buffer): Record<string, string> {
  try {
    const cert = new X509Certificate(pem);
    return { fingerprint256: cert.fingerprint256, notAfter: cert.validTo, subject: cert.subject };
  } catch {
    return {};
  }
}

function recordExpiry(metrics: Metrics, pem: Buffer): void {
  try {
    metrics.tlsServingCertificateExpiry.set(Date.parse(new X509Certificate(pem).validTo) / 1000);
  } catch {
    // A pair that TLS accepted always parses; nothing useful to record otherwise.
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Starts the HTTPS listener; resolves once it is bound, rejects if the pair cannot be loaded or bound. */
export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  const { logger, metrics, certFile, keyFile } = options;
  const stampOf = async (): Promise<string> =>
    (await Promise.all([fileStamp(certFile), fileStamp(keyFile)])).join('|');

  let lastStamp = await stampOf();
  let current = await readPair(certFile, keyFile);
  let shuttingDown = false;
  recordExpiry(metrics, current.cert);

  const server = https.createServer(
    {
      ...secureOptions(current),
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      headersTimeout: HEADERS_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
    },
    (req, res) => {
      // Clients that reconnect now reach a pod that is still ready.
      if (shuttingDown) res.setHeader('Connection', 'close');
      options.app(req, res);
    },
  );

  let lastFailedState: string | undefined;

  async function load(trigger: 'poll' | 'watch' | 'manual'): Promise<ReloadResult> {
    let pair: Pair;
    try {
      pair = await readPair(certFile, keyFile);
    } catch (err) {
      const reason = `cannot read certificate or key: ${errorMessage(err)}`;
      return fail(trigger, reason, reason);
    }
    if (pair.digest === current.digest) return 'unchanged';
    try {
      // Proves the key matches the certificate before anything is swapped in.
      tls.createSecureContext(secureOptions(pair));
      server.setSecureContext(secureOptions(pair));
    } catch (err) {
      return fail(
        trigger,
        pair.digest,
        `certificate and key do not form a usable pair: ${errorMessage(err)}`,
      );
    }
    current = pair;
    lastFailedState = undefined;
    metrics.tlsReloads.inc({ result: 'success' });
    recordExpiry(metrics, pair.cert);
    logger.info('serving a new TLS certificate', { trigger, ...certificateSummary(pair.cert) });
    return 'reloaded';
  }

  function fail(trigger: string, state: string, reason: string): ReloadResult {
    // Automatic triggers fire repeatedly for the same broken files; report each broken state once.
    const repeat = trigger !== 'manual' && state === lastFailedState;
    lastFailedState = state;
    if (!repeat) {
      metrics.tlsReloads.inc({ result: 'failure' });
      logger.error('TLS reload failed; still serving the previous certificate', { trigger, reason });
    }
    return 'failed';
  }

  // One reload at a time: a poll and a watch event racing must not interleave reads and swaps.
  let queue: Promise<unknown> = Promise.resolve();
  function serialized(task: () => Promise<ReloadResult>): Promise<ReloadResult> {
    const run = queue.then(task);
    queue = run.catch(() => undefined);
    return run;
  }

  const pollTimer = setInterval(() => {
    void serialized(async () => {
      const stamp = await stampOf();
      if (stamp === lastStamp) return 'unchanged';
      lastStamp = stamp;
      return load('poll');
    });
  }, options.reloadIntervalSeconds * 1000);
  pollTimer.unref();

  let debounce: NodeJS.Timeout | undefined;
  const watchers: FSWatcher[] = [];
  const watchedDirs =
    options.watchDirectories === false ? [] : [path.dirname(certFile), path.dirname(keyFile)];
  for (const dir of new Set(watchedDirs)) {
    try {
      const watcher = watch(dir, { persistent: false }, () => {
        clearTimeout(debounce);
        debounce = setTimeout(() => {
          void serialized(async () => {
            lastStamp = await stampOf();
            return load('watch');
          });
        }, WATCH_DEBOUNCE_MS);
        debounce.unref();
      });
      watcher.on('error', (err) => {
        logger.warn('watching the certificate directory failed; relying on polling', {
          dir,
          error: errorMessage(err),
        });
        watcher.close();
      });
      watchers.push(watcher);
    } catch (err) {
      logger.warn('cannot watch the certificate directory; relying on polling', {
        dir,
        error: errorMessage(err),
      });
    }
  }

  function stopReloading(): void {
    clearInterval(pollTimer);
    clearTimeout(debounce);
    for (const w of watchers) w.close();
  }

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      stopReloading();
      reject(err);
    };
    server.once('error', onError);
    server.listen(options.port, options.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (err) => {
    logger.error('HTTPS server error', { error: errorMessage(err) });
  });
  server.on('tlsClientError', (err) => {
    // Scanners and clients that distrust us cause these; useful when debugging, noise otherwise.
    logger.debug('TLS handshake failed', { error: errorMessage(err) });
  });

  let closed: Promise<void> | undefined;
  function closeListener(force: boolean): Promise<void> {
    closed ??= new Promise<void>((resolve) => {
      stopReloading();
      const sweep = setInterval(() => {
        server.closeIdleConnections();
      }, IDLE_SWEEP_MS);
      server.close(() => {
        clearInterval(sweep);
        resolve();
      });
      server.closeIdleConnections();
    });
    if (force) server.closeAllConnections();
    return closed;
  }

  let shutdownPromise: Promise<void> | undefined;
  const delayMs = (options.shutdownDelaySeconds ?? 0) * 1000;

  return {
    port: (server.address() as AddressInfo).port,
    server,
    isShuttingDown: () => shuttingDown,
    reloadNow: () =>
      serialized(async () => {
        lastStamp = await stampOf();
        return load('manual');
      }),
    shutdown() {
      shutdownPromise ??= (async () => {
        shuttingDown = true;
        logger.info('shutting down: readiness is now false', { delaySeconds: delayMs / 1000 });
        if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
        logger.info('closing the listener and draining in-flight requests');
        await closeListener(false);
        logger.info('all connections closed');
      })();
      return shutdownPromise;
    },
    close() {
      shuttingDown = true;
      return closeListener(true);
    },
  };
}
