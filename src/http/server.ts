import { createHash, X509Certificate } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics/index.js';

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
  /** OpenSSL cipher list: TLS 1.2 suites and TLS 1.3 `TLS_*` suites. Default DEFAULT_TLS_CIPHER_SUITES. */
  readonly tlsCipherSuites?: string;
  /** Default TLSv1.2. */
  readonly tlsMinVersion?: TlsMinVersion;
  /**
   * Called synchronously with the initial pair before the server listens, and again after every
   * successful reload, once the new pair is being served. An exception thrown at start makes
   * startServer reject; one thrown after a reload is logged and the new pair stays served.
   */
  readonly onPairLoaded?: (pair: { readonly cert: Buffer; readonly key: Buffer }) => void;
  /** Overrides of the connection time limits; the defaults fit the API server's client. For tests. */
  readonly connectionLimits?: Partial<ConnectionLimits>;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

export interface ConnectionLimits {
  /** A connection that has not completed the TLS handshake by then is dropped. */
  readonly handshakeTimeoutMs: number;
  /**
   * A request whose headers have not all arrived by then gets 408 and the connection is closed. Counted
   * from the request's first byte, and for a connection's first request from the end of the handshake
   * (Node's own rule), so a connection that never sends anything is closed after this too.
   */
  readonly headersTimeoutMs: number;
  /** How often the headers and request timeouts are checked; they can overshoot by this much. */
  readonly checkIntervalMs: number;
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
   * delay the listener closes and every connection that is not answering a fully received request is
   * closed at once (idle keep-alive, still handshaking, silent, headers or body still arriving); the
   * promise resolves once the remaining requests are answered. Never exits the process; the caller
   * enforces a deadline.
   */
  shutdown(): Promise<void>;
  /** Immediate stop: drops every connection, in flight or not. */
  close(): Promise<void>;
}

export const TLS_MIN_VERSIONS = ['TLSv1.2', 'TLSv1.3'] as const;
export type TlsMinVersion = (typeof TLS_MIN_VERSIONS)[number];

/**
 * TLS 1.2: only ECDHE key exchange with an AEAD cipher (AES-GCM, ChaCha20-Poly1305), for ECDSA and RSA
 * certificates, in the server's order of preference. No CBC, no SHA-1 MACs, no CCM8, no static RSA or
 * DHE key exchange. TLS 1.3: its three standard suites (all AEAD). The API server's Go client offers
 * all of these.
 */
export const DEFAULT_TLS_CIPHER_SUITES = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');
// Several fs.watch events arrive for one kubelet secret update (temp dir, ..data symlink swap, old dir
// removal); one reload after they settle is enough, and mid-swap states are never read.
const WATCH_DEBOUNCE_MS = 200;
// The API server's webhook client keeps idle connections for 90 s. A shorter server-side timeout means
// we sometimes close a connection just as the client reuses it, and that admission request fails.
const KEEP_ALIVE_TIMEOUT_MS = 95_000;
const HEADERS_TIMEOUT_MS = 15_000;
// A webhook call cannot take longer than 30 s (the maximum timeoutSeconds), so neither can its request.
const REQUEST_TIMEOUT_MS = 30_000;
// Go's http.Transport (the API server's webhook client) gives up on a handshake after 10 s; a client
// that has not finished by then is not one we serve. Node's default is 120 s.
const HANDSHAKE_TIMEOUT_MS = 10_000;
// Node checks the headers and request timeouts on a timer (default every 30 s, so a 15 s headers
// timeout could take 45 s); walking the connection list once a second costs next to nothing.
const TIMEOUT_CHECK_INTERVAL_MS = 1_000;
// While draining, connections whose in-flight request just finished become idle and are closed on the
// next sweep, so a client that keeps its connection open cannot hold the shutdown back.
const IDLE_SWEEP_MS = 100;

const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
  headersTimeoutMs: HEADERS_TIMEOUT_MS,
  checkIntervalMs: TIMEOUT_CHECK_INTERVAL_MS,
};

/** A request and its response, from the request's headers until the response is written or dropped. */
interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
}

/**
 * One accepted TCP connection. `raw` is known from the first moment; `secure` once the TLS handshake
 * completed. Node's closeIdleConnections() cannot drain these: it never sees a connection still in the
 * handshake, and it counts as busy one whose headers are still arriving and one that has sent nothing
 * yet since its handshake (the headers timeout runs from there), so it leaves both open.
 */
interface Connection {
  readonly raw: Socket;
  secure?: tls.TLSSocket;
  readonly exchanges: Set<Exchange>;
}

/**
 * Only a request that arrived whole and is still being answered keeps its connection open during a
 * drain. Anything else (no handshake yet, silence, headers or a body still trickling in, an idle
 * keep-alive connection) carries nothing the API server is still waiting for from this replica.
 */
function isAnswering(connection: Connection): boolean {
  for (const { req, res } of connection.exchanges) {
    if (req.complete && !res.writableFinished) return true;
  }
  return false;
}

/** Both sockets of one connection report the same addresses; this pairs the TLS socket with its TCP one. */
function addressKey(socket: Socket): string {
  return `${socket.remoteAddress}|${socket.remotePort}|${socket.localAddress}|${socket.localPort}`;
}

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

interface CipherOptions {
  readonly ciphers: string;
  readonly minVersion: TlsMinVersion;
}

/** The same TLS settings for the first pair and every reloaded one; a reload changes only the pair. */
function secureOptions(pair: Pair, cipherOptions: CipherOptions): tls.SecureContextOptions {
  return {
    cert: pair.cert,
    key: pair.key,
    minVersion: cipherOptions.minVersion,
    ciphers: cipherOptions.ciphers,
    // Our order of preference, not the client's (Node's server default too; explicit so it cannot be lost).
    honorCipherOrder: true,
  };
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

  const cipherOptions: CipherOptions = {
    ciphers: options.tlsCipherSuites ?? DEFAULT_TLS_CIPHER_SUITES,
    minVersion: options.tlsMinVersion ?? 'TLSv1.2',
  };
  const limits: ConnectionLimits = { ...DEFAULT_CONNECTION_LIMITS, ...options.connectionLimits };

  let lastStamp = await stampOf();
  let current = await readPair(certFile, keyFile);
  let shuttingDown = false;

  const connections = new Set<Connection>();
  const handshaking = new Map<string, Connection>();
  const bySecureSocket = new WeakMap<tls.TLSSocket, Connection>();
  let draining = false;

  const server = https.createServer(
    {
      ...secureOptions(current, cipherOptions),
      handshakeTimeout: limits.handshakeTimeoutMs,
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: REQUEST_TIMEOUT_MS,
      connectionsCheckingInterval: limits.checkIntervalMs,
    },
    (req, res) => {
      const connection = bySecureSocket.get(req.socket as tls.TLSSocket);
      if (connection !== undefined) {
        const exchange: Exchange = { req, res };
        connection.exchanges.add(exchange);
        const done = (): void => {
          connection.exchanges.delete(exchange);
        };
        res.once('finish', done);
        res.once('close', done);
      }
      // Clients that reconnect now reach a pod that is still ready.
      if (shuttingDown) res.setHeader('Connection', 'close');
      options.app(req, res);
    },
  );
  server.on('connection', (raw: Socket) => {
    const connection: Connection = { raw, exchanges: new Set() };
    const key = addressKey(raw);
    connections.add(connection);
    handshaking.set(key, connection);
    raw.once('close', () => {
      connections.delete(connection);
      if (handshaking.get(key) === connection) handshaking.delete(key);
    });
    if (draining) raw.destroy();
  });
  server.on('secureConnection', (secure: tls.TLSSocket) => {
    const key = addressKey(secure);
    let connection = handshaking.get(key);
    if (connection === undefined) {
      // Not expected (both sockets share one handle); track the TLS socket on its own rather than lose it.
      connection = { raw: secure, exchanges: new Set() };
      const own = connection;
      connections.add(own);
      secure.once('close', () => connections.delete(own));
    } else {
      handshaking.delete(key);
    }
    connection.secure = secure;
    bySecureSocket.set(secure, connection);
  });

  function dropConnections(all: boolean): void {
    for (const connection of connections) {
      if (all || !isAnswering(connection)) (connection.secure ?? connection.raw).destroy();
    }
  }

  recordExpiry(metrics, current.cert);
  options.onPairLoaded?.({ cert: current.cert, key: current.key });

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
      tls.createSecureContext(secureOptions(pair, cipherOptions));
      server.setSecureContext(secureOptions(pair, cipherOptions));
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
    try {
      options.onPairLoaded?.({ cert: pair.cert, key: pair.key });
    } catch (err) {
      logger.error('the handler for a newly loaded TLS pair failed', { error: errorMessage(err) });
    }
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
      draining = true;
      const sweep = setInterval(() => {
        dropConnections(false);
      }, IDLE_SWEEP_MS);
      server.close(() => {
        clearInterval(sweep);
        resolve();
      });
      dropConnections(false);
    });
    if (force) dropConnections(true);
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
