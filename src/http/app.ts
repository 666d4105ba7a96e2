import type { EventLoopUtilization } from 'node:perf_hooks';
import express, { type ErrorRequestHandler, type Express, type Request, type Response } from 'express';
import {
  type AdmissionReview,
  type NamespaceSource,
  parseAdmissionReview,
  reviewAdmission,
  wrapResponse,
  type ReviewDeps,
  type RecordSealer,
  type EngineSettings,
} from '../engine/index.js';
import type { Logger } from '../logger.js';
import { operationLabel, type Metrics, type OperationLabel } from '../metrics/index.js';

export interface AppDeps {
  readonly settings: EngineSettings;
  readonly namespaces: NamespaceSource;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly maxBodyBytes: number;
  readonly isShuttingDown: () => boolean;
  /** Seals our changes record; replicas must share its keys (see engine/record/seal.ts). */
  readonly sealer?: RecordSealer;
  /** Clock for seals; tests fix it. */
  readonly now?: () => number;
  /** Back-pressure: what a burst may hold at once, and how late a review may start (see BackPressure). */
  readonly backPressure?: BackPressure;
}

/**
 * Limits that keep a burst from exhausting memory or outlasting the API server's timeout. A request over
 * either is refused at once, with Retry-After, and counted in pod_hardener_rejected_requests_total.
 */
export interface BackPressure {
  /**
   * Bytes of request bodies admitted at once: Content-Length when the request has one, counted as the
   * bytes arrive otherwise; released when the response ends. A request that would go over gets 429
   * before its body is read. One request is always admitted when nothing else is in flight, and bodies
   * over SMALL_REQUEST_BYTES leave SMALL_REQUEST_RESERVE_BYTES of the budget to smaller ones.
   */
  readonly maxInFlightBytes: number;
  /**
   * A review that has waited behind other work for more than this many seconds since its request
   * arrived gets 503 instead of an answer the API server (timeoutSeconds) has stopped waiting for. The
   * wait is the event loop's busy time since the request's headers arrived: a slow client's own transfer
   * time does not count, the time its bytes sat unread while other requests were served does.
   */
  readonly maxReviewWaitSeconds: number;
  /** Monotonic clock in milliseconds, for rate-limiting the log; tests move it. Default performance.now(). */
  readonly clockMs?: () => number;
  /** Measures the busy time; tests replace it. Default: the event loop's utilisation (perf_hooks). */
  readonly busyClock?: BusyClock;
  /** At most one warning per this many milliseconds about refused requests (default 10,000). */
  readonly logIntervalMs?: number;
}

/** Marks a moment and tells how long the process was busy since; method syntax lets marks be typed. */
export interface BusyClock<Mark = unknown> {
  mark(): Mark;
  busyMsSince(mark: Mark): number;
}

/** Active (not idle-polling) time of the event loop, which is what queues requests behind each other. */
const EVENT_LOOP_BUSY: BusyClock<EventLoopUtilization> = {
  mark: () => performance.eventLoopUtilization(),
  busyMsSince: (mark) => performance.eventLoopUtilization(mark).active,
};

export type RefusalReason = 'in_flight_bytes' | 'review_wait';

/**
 * Requests up to this size may use the whole in-flight budget; larger ones leave SMALL_REQUEST_RESERVE_BYTES
 * of it free, so a burst of large bodies never starves ordinary reviews (a typical pod is under 10 KiB).
 */
export const SMALL_REQUEST_BYTES = 64 * 1024;
export const SMALL_REQUEST_RESERVE_BYTES = 1024 * 1024;
/** Seconds a refused client is told to wait; the API server does not retry, other callers may. */
const RETRY_AFTER_SECONDS = 1;
const DEFAULT_REFUSAL_LOG_INTERVAL_MS = 10_000;

interface BodyParserError {
  readonly status?: number;
  readonly type?: string;
}

function elapsedSeconds(started: bigint): number {
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/** Microsecond precision is plenty for a log line and keeps it readable. */
function milliseconds(seconds: number): number {
  return Math.round(seconds * 1e6) / 1e3;
}

function errorDetails(err: unknown): { error: string; stack?: string } {
  return err instanceof Error
    ? { error: err.message, ...(err.stack === undefined ? {} : { stack: err.stack }) }
    : { error: String(err) };
}

function contentLength(req: Request): number | undefined {
  const header = req.headers['content-length'];
  if (header === undefined || !/^[0-9]{1,15}$/.test(header)) return undefined;
  return Number(header);
}

/** Builds the webhook's express app without listening, so tests can drive it with supertest. */
export function buildApp(deps: AppDeps): Express {
  const { metrics, logger, namespaces } = deps;
  const limits = deps.backPressure;
  const clockMs = limits?.clockMs ?? (() => performance.now());
  const busyClock: BusyClock = limits?.busyClock ?? EVENT_LOOP_BUSY;
  const refusalLogIntervalMs = limits?.logIntervalMs ?? DEFAULT_REFUSAL_LOG_INTERVAL_MS;
  let inFlightBytes = 0;
  let inFlightRequests = 0;
  let lastRefusalLogMs: number | undefined;
  const refusedSinceLog: Record<RefusalReason, number> = { in_flight_bytes: 0, review_wait: 0 };
  const reviewDeps: ReviewDeps = {
    settings: deps.settings,
    namespaces,
    ...(deps.sealer ? { sealer: deps.sealer } : {}),
    ...(deps.now ? { now: deps.now } : {}),
  };

  const app = express();
  app.disable('x-powered-by');
  // An ETag would hash every AdmissionReview response for a client that never revalidates.
  app.set('etag', false);

  const parseJson = express.json({
    limit: deps.maxBodyBytes,
    // The API server always sends JSON, but a missing or odd Content-Type must not turn into an
    // empty body that then fails with a confusing message.
    type: () => true,
    // Non-object JSON is reported by parseAdmissionReview, which says what was expected.
    strict: false,
    // The API server never compresses webhook requests; decompressing is only attack surface.
    inflate: false,
  });

  function badRequest(res: Response, started: bigint, status: number, reason: string): void {
    const durationSeconds = elapsedSeconds(started);
    metrics.recordFailure('bad_request', 'unknown', durationSeconds);
    logger.warn('rejected admission request', { status, reason, durationMs: milliseconds(durationSeconds) });
    res.status(status).json({ error: reason });
  }

  function bodyProblem(err: unknown): { status: number; reason: string } {
    const { status, type } = (typeof err === 'object' && err !== null ? err : {}) as BodyParserError;
    switch (type) {
      case 'entity.too.large':
        return { status: 413, reason: `request body exceeds the limit of ${deps.maxBodyBytes} bytes` };
      // The parser's own message quotes part of the body, which may hold pod secrets: never pass it on.
      case 'entity.parse.failed':
        return { status: 400, reason: 'request body is not valid JSON' };
      case 'encoding.unsupported':
        return { status: 415, reason: 'compressed request bodies are not supported' };
      case 'charset.unsupported':
        return { status: 415, reason: 'request body must be UTF-8 JSON' };
      case 'request.aborted':
        return { status: 400, reason: 'request body was aborted by the client' };
      default:
        return typeof status === 'number' && status >= 400 && status < 500
          ? { status, reason: `request body could not be read (${type ?? 'unknown error'})` }
          : { status: 400, reason: 'request body could not be read' };
    }
  }

  async function review(req: Request, res: Response, started: bigint): Promise<void> {
    let operation: OperationLabel = 'unknown';
    let request: AdmissionReview['request'] | undefined;
    try {
      const body: unknown = req.body;
      if (body === undefined) {
        badRequest(
          res,
          started,
          400,
          'request body is empty; expected an admission.k8s.io/v1 AdmissionReview',
        );
        return;
      }
      const parsed = parseAdmissionReview(body);
      if ('error' in parsed) {
        badRequest(res, started, 400, parsed.error);
        return;
      }
      request = parsed.review.request;
      operation = operationLabel(request.operation);
      const result = await reviewAdmission(parsed.review, reviewDeps);
      res.status(200).json(wrapResponse(result.response));
      const durationSeconds = elapsedSeconds(started);
      metrics.recordReview(operation, result, durationSeconds);
      // winston formats a line before its transport drops it by level; below info that was ~4% of a review.
      if (logger.isInfoEnabled()) {
        logger.info('admission review', {
          ...result.logFields,
          outcome: result.outcome,
          durationMs: milliseconds(durationSeconds),
        });
      }
    } catch (err) {
      const durationSeconds = elapsedSeconds(started);
      metrics.recordFailure('error', operation, durationSeconds);
      // Identifiers only: the object under review may carry secrets in env values or annotations.
      logger.error('admission review failed', {
        uid: request?.uid,
        operation: request?.operation,
        namespace: request?.namespace,
        name: request?.name,
        ...errorDetails(err),
        durationMs: milliseconds(durationSeconds),
      });
      if (!res.headersSent) {
        res.status(500).json({ error: 'internal error while reviewing the admission request' });
      }
    }
  }

  /** Answers at once; a refusal during a burst is logged at most once per interval, with a count. */
  function refuse(res: Response, reason: RefusalReason, status: number, message: string): void {
    metrics.rejectedRequests.inc({ reason });
    refusedSinceLog[reason] += 1;
    const now = clockMs();
    if (lastRefusalLogMs === undefined || now - lastRefusalLogMs >= refusalLogIntervalMs) {
      lastRefusalLogMs = now;
      logger.warn('refusing admission requests under load', {
        reason,
        refused: { ...refusedSinceLog },
        inFlightBytes,
        inFlightRequests,
        ...(limits ? { maxInFlightBytes: limits.maxInFlightBytes } : {}),
      });
      refusedSinceLog.in_flight_bytes = 0;
      refusedSinceLog.review_wait = 0;
    }
    res.status(status).set('Retry-After', String(RETRY_AFTER_SECONDS)).json({ error: message });
  }

  /**
   * Reserves the request's body bytes against the budget until its response ends; false when the request
   * was refused (and answered). Without a Content-Length the bytes are counted as they arrive, and the
   * request is refused, its connection closed, as soon as they go over.
   */
  function admit(req: Request, res: Response): boolean {
    if (limits === undefined) return true;
    const budget = limits.maxInFlightBytes;
    const declared = contentLength(req);
    // Over the body limit: body-parser answers 413 without reading it, so nothing is held.
    if (declared !== undefined && declared > deps.maxBodyBytes) return true;
    const room =
      declared !== undefined && declared <= SMALL_REQUEST_BYTES
        ? budget
        : budget - SMALL_REQUEST_RESERVE_BYTES;
    if (declared !== undefined && inFlightRequests > 0 && inFlightBytes + declared > room) {
      // The body is drained and dropped after the answer (TLS decryption only, ~10 times cheaper than a
      // review), so the client gets a clear 429 instead of a reset connection and keeps the connection.
      refuse(
        res,
        'in_flight_bytes',
        429,
        `too many request bytes in flight (${inFlightBytes} of ${budget}); retry later`,
      );
      return false;
    }
    let held = declared ?? 0;
    inFlightBytes += held;
    inFlightRequests += 1;
    metrics.inFlightRequestBytes.set(inFlightBytes);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      inFlightBytes -= held;
      inFlightRequests -= 1;
      metrics.inFlightRequestBytes.set(inFlightBytes);
    };
    res.once('close', release);
    if (declared === undefined) {
      const count = (chunk: Buffer): void => {
        if (released) return;
        if (held + chunk.length > deps.maxBodyBytes) {
          // body-parser refuses it with 413 and drops what it read; the rest is drained, not held.
          req.off('data', count);
          inFlightBytes -= held;
          held = 0;
          metrics.inFlightRequestBytes.set(inFlightBytes);
          return;
        }
        held += chunk.length;
        inFlightBytes += chunk.length;
        metrics.inFlightRequestBytes.set(inFlightBytes);
        const limit = held <= SMALL_REQUEST_BYTES ? budget : budget - SMALL_REQUEST_RESERVE_BYTES;
        if (inFlightBytes > limit && inFlightRequests > 1 && !res.headersSent) {
          req.off('data', count);
          // The rest of the body is never read: the connection closes once the answer is written.
          res.set('Connection', 'close');
          refuse(
            res,
            'in_flight_bytes',
            429,
            `too many request bytes in flight (over ${budget}); retry later`,
          );
          release();
        }
      };
      req.on('data', count);
    }
    return true;
  }

  app.post('/mutate', (req, res) => {
    const started = process.hrtime.bigint();
    const arrived = limits === undefined ? undefined : busyClock.mark();
    if (!admit(req, res)) return;
    parseJson(req, res, (err?: unknown) => {
      // Refused while the body was still arriving; the answer is already on its way.
      if (res.headersSent) return;
      if (err !== undefined && err !== null) {
        const { status, reason } = bodyProblem(err);
        badRequest(res, started, status, reason);
        return;
      }
      if (limits !== undefined && busyClock.busyMsSince(arrived) > limits.maxReviewWaitSeconds * 1000) {
        refuse(
          res,
          'review_wait',
          503,
          `the review waited more than ${limits.maxReviewWaitSeconds} s behind other work; retry later`,
        );
        return;
      }
      void review(req, res, started);
    });
  });

  app.get('/healthz', (_req, res) => {
    res.status(200).json({ status: 'ok' });
  });

  app.get('/readyz', (_req, res) => {
    if (deps.isShuttingDown()) {
      res.status(503).json({ status: 'shutting down' });
    } else if (!namespaces.synced()) {
      res.status(503).json({ status: 'namespace cache not synced yet' });
    } else {
      res.status(200).json({ status: 'ok' });
    }
  });

  app.get('/metrics', async (_req, res) => {
    const text = await metrics.registry.metrics();
    res.status(200).type(metrics.registry.contentType).send(text);
  });

  const allowed: Readonly<Record<string, string>> = {
    '/mutate': 'POST',
    '/healthz': 'GET, HEAD',
    '/readyz': 'GET, HEAD',
    '/metrics': 'GET, HEAD',
  };
  for (const [path, allow] of Object.entries(allowed)) {
    app.all(path, (_req, res) => {
      res
        .status(405)
        .set('Allow', allow)
        .json({ error: `method not allowed; use ${allow}` });
    });
  }

  app.use((_req, res) => {
    res.status(404).json({ error: 'not found' });
  });

  const onError: ErrorRequestHandler = (err, req, res, next) => {
    logger.error('request failed', { method: req.method, path: req.path, ...errorDetails(err) });
    if (res.headersSent) {
      next(err);
      return;
    }
    res.status(500).json({ error: 'internal error' });
  };
  app.use(onError);

  return app;
}
