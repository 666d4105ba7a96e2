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
import { createBackPressureGate, type BackPressure } from './back-pressure.js';

export interface AppDeps {
  readonly settings: EngineSettings;
  readonly namespaces: NamespaceSource;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly maxBodyBytes: number;
  readonly isShuttingDown: () => boolean;
  /** Seals our changes record; replicas must share its keys (see engine/record/seal.ts). */
  readonly sealer: RecordSealer;
  /** Milliseconds since the epoch, for seals (Date.now); tests fix it. */
  readonly now: () => number;
  /** Back-pressure: what a burst may hold at once, and how late a review may start (see BackPressure). */
  readonly backPressure?: BackPressure;
}

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

/** Builds the webhook's express app without listening, so tests can drive it with supertest. */
export function buildApp(deps: AppDeps): Express {
  const { metrics, logger, namespaces } = deps;
  const gate = createBackPressureGate(deps.backPressure, {
    metrics,
    logger,
    maxBodyBytes: deps.maxBodyBytes,
  });
  const reviewDeps: ReviewDeps = {
    settings: deps.settings,
    namespaces,
    sealer: deps.sealer,
    now: deps.now,
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

  app.post('/mutate', (req, res) => {
    const started = process.hrtime.bigint();
    const admitted = gate.admit(req, res);
    if (admitted === undefined) return;
    parseJson(req, res, (err?: unknown) => {
      // Refused while the body was still arriving; the answer is already on its way.
      if (res.headersSent) return;
      if (err !== undefined && err !== null) {
        const { status, reason } = bodyProblem(err);
        badRequest(res, started, status, reason);
        return;
      }
      if (admitted.refuseIfLate(res)) return;
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
