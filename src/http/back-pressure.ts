import type { EventLoopUtilization } from 'node:perf_hooks';
import type { Request, Response } from 'express';
import type { Logger } from '../logger.js';
import type { BackPressureMetrics } from '../metrics/index.js';
import { dropBodyInParser } from './refused-body.js';

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

function contentLength(req: Request): number | undefined {
  const header = req.headers['content-length'];
  if (header === undefined || !/^[0-9]{1,15}$/.test(header)) return undefined;
  return Number(header);
}

export interface BackPressureDeps {
  readonly metrics: BackPressureMetrics;
  readonly logger: Logger;
  /** The body limit: a body over it is refused by the body parser, not held here. */
  readonly maxBodyBytes: number;
}

/** A request let through; it may still be refused once its body is read. */
export interface AdmittedRequest {
  /** Refuses (and answers) the request if it waited too long to start its review; true when it did. */
  refuseIfLate(res: Response): boolean;
}

export interface BackPressureGate {
  /** Called as the request arrives, before its body is read; undefined when it was refused (and answered). */
  admit(req: Request, res: Response): AdmittedRequest | undefined;
}

const NOT_LATE: AdmittedRequest = { refuseIfLate: () => false };

/** Without limits every request is admitted and none is ever late. */
export function createBackPressureGate(
  limits: BackPressure | undefined,
  deps: BackPressureDeps,
): BackPressureGate {
  const { metrics, logger } = deps;
  const clockMs = limits?.clockMs ?? (() => performance.now());
  const busyClock: BusyClock = limits?.busyClock ?? EVENT_LOOP_BUSY;
  const refusalLogIntervalMs = limits?.logIntervalMs ?? DEFAULT_REFUSAL_LOG_INTERVAL_MS;
  let inFlightBytes = 0;
  let inFlightRequests = 0;
  let lastRefusalLogMs: number | undefined;
  let parserDropUnavailableLogged = false;
  const refusedSinceLog: Record<RefusalReason, number> = { in_flight_bytes: 0, review_wait: 0 };

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
  function reserve(req: Request, res: Response): boolean {
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
      // The body is drained and dropped after the answer, so the client gets a clear 429 instead of a
      // reset connection and keeps the connection. Dropped inside the parser it costs TLS decryption
      // alone; through JavaScript, a Buffer and a call per chunk as well.
      if (!dropBodyInParser(req) && !parserDropUnavailableLogged && !req.complete) {
        parserDropUnavailableLogged = true;
        logger.info(
          "refused bodies are drained through JavaScript: this Node's HTTP parser is not the one " +
            'pod-hardener knows how to skip a body in',
          { node: process.version },
        );
      }
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

  return {
    admit(req, res) {
      if (limits === undefined) return NOT_LATE;
      const arrived = busyClock.mark();
      if (!reserve(req, res)) return undefined;
      return {
        refuseIfLate(late) {
          if (busyClock.busyMsSince(arrived) <= limits.maxReviewWaitSeconds * 1000) return false;
          refuse(
            late,
            'review_wait',
            503,
            `the review waited more than ${limits.maxReviewWaitSeconds} s behind other work; retry later`,
          );
          return true;
        },
      };
    },
  };
}
