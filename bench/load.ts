/**
 * Drives one server with one corpus entry over keep-alive HTTPS connections (autocannon), checking every
 * response: status 200, the request's own uid echoed, allowed, and a JSON Patch where one is expected.
 * Latencies are recorded here from autocannon's per-response event, because its own histogram keeps
 * whole milliseconds only.
 */
import autocannon, { type Instance, type RequestParams } from 'autocannon';
import { bodyTemplate, requestUid } from './corpus.js';
import type { AdmissionReview } from '../src/engine/review/envelope.js';

export interface LoadOptions {
  readonly url: string;
  readonly review: AdmissionReview;
  readonly expectPatch: boolean;
  readonly connections: number;
  readonly pipelining: number;
  readonly durationSeconds: number;
  readonly timeoutSeconds: number;
  /** Distinguishes the uids of different runs. */
  readonly runNumber: number;
}

export interface LoadResult {
  readonly requests: number;
  readonly durationSeconds: number;
  readonly requestsPerSecond: number;
  /** Every response, refusals included. */
  readonly latencyMs: LatencySummary;
  /** Reviews answered (2xx) only; in cells without refusals the same as latencyMs. */
  readonly servedLatencyMs: LatencySummary;
  /** 2xx responses. */
  readonly served: number;
  /** Back-pressure refusals: 429 or 503 with Retry-After. Not errors: the server said "not now". */
  readonly refusals: number;
  /** Connection errors and timeouts (autocannon's errors, timeouts included). */
  readonly connectionErrors: number;
  readonly timeouts: number;
  readonly non2xx: number;
  /** 2xx responses that failed a check (uid, allowed, patch). */
  readonly mismatches: number;
  /** connectionErrors + non2xx that are not refusals + mismatches. */
  readonly errors: number;
  readonly mismatchExamples: readonly string[];
  readonly responseBytes: number | undefined;
}

export interface LatencySummary {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

let current: Instance | undefined;

/** Stops the run in progress, if any (Ctrl-C). */
export function stopLoad(): void {
  current?.stop();
}

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
}

interface ResponseShape {
  response?: { uid?: unknown; allowed?: unknown; patchType?: unknown; patch?: unknown };
}

/** Why a response is wrong, or undefined when it is right. */
export function responseProblem(
  status: number,
  body: string,
  uid: unknown,
  expectPatch: boolean,
): string | undefined {
  if (status !== 200) return `status ${status}`;
  let parsed: ResponseShape;
  try {
    parsed = JSON.parse(body) as ResponseShape;
  } catch {
    return 'response is not JSON';
  }
  const response = parsed.response;
  if (response === undefined) return 'no response field';
  if (response.uid !== uid) return `uid ${JSON.stringify(response.uid)} instead of ${JSON.stringify(uid)}`;
  if (response.allowed !== true) return 'not allowed';
  if (
    expectPatch &&
    (response.patchType !== 'JSONPatch' || typeof response.patch !== 'string' || response.patch === '')
  )
    return 'no JSON Patch';
  return undefined;
}

function summary(values: Float64Array): LatencySummary {
  const sorted = values.slice().sort();
  let total = 0;
  for (const v of sorted) total += v;
  return {
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
    mean: sorted.length === 0 ? Number.NaN : total / sorted.length,
  };
}

/** A growable list of latencies. */
class Samples {
  private values = new Float64Array(16_384);
  length = 0;

  push(value: number): void {
    if (this.length === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.length++] = value;
  }

  view(): Float64Array {
    return this.values.subarray(0, this.length);
  }
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const template = bodyTemplate(options.review);
  const prefix = Buffer.from(template.prefix);
  const suffix = Buffer.from(template.suffix);
  let sent = 0;
  let mismatches = 0;
  const examples: string[] = [];
  let responseBytes: number | undefined;
  const all = new Samples();
  const served = new Samples();
  let refusals = 0;

  const instance = autocannon({
    url: options.url,
    connections: options.connections,
    pipelining: options.pipelining,
    duration: options.durationSeconds,
    timeout: options.timeoutSeconds,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    requests: [
      {
        setupRequest: (request: RequestParams, context: Record<string, unknown>): RequestParams => {
          const uid = requestUid(options.runNumber, ++sent);
          context.uid = uid;
          return { ...request, body: Buffer.concat([prefix, Buffer.from(uid), suffix]) };
        },
        onResponse: (status, body, context) => {
          // Non-2xx responses are counted by autocannon; refusals are told apart by their status.
          if (status === 429 || status === 503) {
            refusals++;
            return;
          }
          if (status < 200 || status > 299) return;
          responseBytes ??= Buffer.byteLength(body);
          const problem = responseProblem(status, body, context.uid, options.expectPatch);
          if (problem === undefined) return;
          mismatches++;
          if (examples.length < 5) examples.push(problem);
        },
      },
    ],
  });
  current = instance;
  instance.on('response', (_client: unknown, status: number, _bytes: number, responseTimeMs: number) => {
    all.push(responseTimeMs);
    if (status >= 200 && status <= 299) served.push(responseTimeMs);
  });
  try {
    const result = await instance;
    const requests = all.length;
    const errors = result.errors + result.non2xx - refusals + mismatches;
    return {
      requests,
      durationSeconds: result.duration,
      requestsPerSecond: requests / result.duration,
      latencyMs: summary(all.view()),
      servedLatencyMs: summary(served.view()),
      served: served.length,
      refusals,
      connectionErrors: result.errors,
      timeouts: result.timeouts,
      non2xx: result.non2xx,
      mismatches,
      errors,
      mismatchExamples: examples,
      responseBytes,
    };
  } finally {
    current = undefined;
  }
}
