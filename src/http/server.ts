import { DEFAULT_TLS_CIPHER_SUITES, type TlsMinVersion } from '../tls/protocol.js';
import type { RequestListener } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import type { Logger } from '../logger.js';
import type { TlsMetrics } from '../metrics/index.js';
import { openCertificateReload, type CertificatePair, type ReloadResult } from '../tls/reload.js';
import { trackConnections } from './connections.js';

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
  readonly onPairLoaded?: (pair: CertificatePair) => void;
  /** Overrides of the connection time limits; the defaults fit the API server's client. For tests. */
  readonly connectionLimits?: Partial<ConnectionLimits>;
  readonly logger: Logger;
  readonly metrics: TlsMetrics;
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

interface CipherOptions {
  readonly ciphers: string;
  readonly minVersion: TlsMinVersion;
}

/** The same TLS settings for the first pair and every reloaded one; a reload changes only the pair. */
function secureOptions(pair: CertificatePair, cipherOptions: CipherOptions): tls.SecureContextOptions {
  return {
    cert: pair.cert,
    key: pair.key,
    minVersion: cipherOptions.minVersion,
    ciphers: cipherOptions.ciphers,
    // Our order of preference, not the client's (Node's server default too; explicit so it cannot be lost).
    honorCipherOrder: true,
  };
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Starts the HTTPS listener; resolves once it is bound, rejects if the pair cannot be loaded or bound. */
export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  const { logger } = options;

  const cipherOptions: CipherOptions = {
    ciphers: options.tlsCipherSuites ?? DEFAULT_TLS_CIPHER_SUITES,
    minVersion: options.tlsMinVersion ?? 'TLSv1.2',
  };
  const limits: ConnectionLimits = { ...DEFAULT_CONNECTION_LIMITS, ...options.connectionLimits };

  const certificates = await openCertificateReload(options);
  let shuttingDown = false;

  const server = https.createServer(
    {
      ...secureOptions(certificates.initial, cipherOptions),
      handshakeTimeout: limits.handshakeTimeoutMs,
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: REQUEST_TIMEOUT_MS,
      connectionsCheckingInterval: limits.checkIntervalMs,
    },
    (req, res) => {
      connections.track(req, res);
      // Clients that reconnect now reach a pod that is still ready.
      if (shuttingDown) res.setHeader('Connection', 'close');
      options.app(req, res);
    },
  );
  const connections = trackConnections(server);

  certificates.start((pair) => {
    // Proves the key matches the certificate before anything is swapped in.
    tls.createSecureContext(secureOptions(pair, cipherOptions));
    server.setSecureContext(secureOptions(pair, cipherOptions));
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      certificates.stop();
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
      certificates.stop();
      connections.refuseNew();
      const sweep = setInterval(() => {
        connections.drop(false);
      }, IDLE_SWEEP_MS);
      server.close(() => {
        clearInterval(sweep);
        resolve();
      });
      connections.drop(false);
    });
    if (force) connections.drop(true);
    return closed;
  }

  let shutdownPromise: Promise<void> | undefined;
  const delayMs = (options.shutdownDelaySeconds ?? 0) * 1000;

  return {
    port: (server.address() as AddressInfo).port,
    server,
    isShuttingDown: () => shuttingDown,
    reloadNow: () => certificates.reloadNow(),
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
