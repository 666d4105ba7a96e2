import { createHash, X509Certificate } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../logger.js';
import type { TlsMetrics } from '../metrics/index.js';

/** reloaded: a new pair is being served. unchanged: the files hold the pair already served. */
export type ReloadResult = 'reloaded' | 'unchanged' | 'failed';

export interface CertificatePair {
  readonly cert: Buffer;
  readonly key: Buffer;
}

export interface CertificateReloadOptions {
  readonly certFile: string;
  readonly keyFile: string;
  /** How often the certificate and key files are checked for changes (fractions allowed). */
  readonly reloadIntervalSeconds: number;
  /** Also react to fs.watch events on the files' directories (default true); polling always runs. */
  readonly watchDirectories?: boolean;
  /**
   * Called synchronously with the initial pair by start(), and again after every successful reload, once
   * the new pair is being served. An exception thrown by start()'s call propagates; one thrown after a
   * reload is logged and the new pair stays served.
   */
  readonly onPairLoaded?: (pair: CertificatePair) => void;
  readonly logger: Logger;
  readonly metrics: TlsMetrics;
}

export interface CertificateReload {
  /** The pair the files held when they were first read. */
  readonly initial: CertificatePair;
  /**
   * Reports the initial pair (expiry metric, onPairLoaded), then polls and watches the files. `serve`
   * swaps a changed pair in, and throws when the pair is not usable.
   */
  start(serve: (pair: CertificatePair) => void): void;
  /** Reads the files now and serves them if they changed and form a valid pair. */
  reloadNow(): Promise<ReloadResult>;
  /** Ends polling and watching. */
  stop(): void;
}

// Several fs.watch events arrive for one kubelet secret update (temp dir, ..data symlink swap, old dir
// removal); one reload after they settle is enough, and mid-swap states are never read.
const WATCH_DEBOUNCE_MS = 200;

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

function recordExpiry(metrics: TlsMetrics, pem: Buffer): void {
  try {
    metrics.tlsServingCertificateExpiry.set(Date.parse(new X509Certificate(pem).validTo) / 1000);
  } catch {
    // A pair that TLS accepted always parses; nothing useful to record otherwise.
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Reads the pair once; rejects if the files cannot be read. Nothing is polled or watched before start(). */
export async function openCertificateReload(options: CertificateReloadOptions): Promise<CertificateReload> {
  const { logger, metrics, certFile, keyFile } = options;
  const stampOf = async (): Promise<string> =>
    (await Promise.all([fileStamp(certFile), fileStamp(keyFile)])).join('|');

  let lastStamp = await stampOf();
  let current = await readPair(certFile, keyFile);
  let serve: (pair: CertificatePair) => void = () => undefined;
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
      serve(pair);
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

  let pollTimer: NodeJS.Timeout | undefined;
  let debounce: NodeJS.Timeout | undefined;
  const watchers: FSWatcher[] = [];

  function watchFiles(): void {
    pollTimer = setInterval(() => {
      void serialized(async () => {
        const stamp = await stampOf();
        if (stamp === lastStamp) return 'unchanged';
        lastStamp = stamp;
        return load('poll');
      });
    }, options.reloadIntervalSeconds * 1000);
    pollTimer.unref();

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
  }

  return {
    initial: { cert: current.cert, key: current.key },
    start(serveChanged) {
      serve = serveChanged;
      recordExpiry(metrics, current.cert);
      options.onPairLoaded?.({ cert: current.cert, key: current.key });
      watchFiles();
    },
    reloadNow: () =>
      serialized(async () => {
        lastStamp = await stampOf();
        return load('manual');
      }),
    stop() {
      clearInterval(pollTimer);
      clearTimeout(debounce);
      for (const w of watchers) w.close();
    },
  };
}
