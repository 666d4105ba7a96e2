/**
 * Drives one server with one corpus entry over keep-alive HTTPS connections (autocannon), checking every
 * response: status 200, the request's own uid echoed, allowed, and a JSON Patch where one is expected.
 * Latencies are recorded here from autocannon's per-response event, because its own histogram keeps
 * whole milliseconds only.
 */
import autocannon, { type Instance, type RequestParams } from 'autocannon';
import { bodyTemplate, requestUid } from './corpus.js';
import type { AdmissionReview } from '../src/core/admission.js';

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
  readonly latencyMs: {
    readonly p50: number;
    readonly p99: number;
    readonly max: number;
    readonly mean: number;
  };
  /** Connection errors and timeouts (autocannon's errors, timeouts included). */
  readonly connectionErrors: number;
  readonly timeouts: number;
  readonly non2xx: number;
  /** 2xx responses that failed a check (uid, allowed, patch). */
  readonly mismatches: number;
  /** connectionErrors + non2xx + mismatches. */
  readonly errors: number;
  readonly mismatchExamples: readonly string[];
  readonly responseBytes: number | undefined;
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

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const template = bodyTemplate(options.review);
  const prefix = Buffer.from(template.prefix);
  const suffix = Buffer.from(template.suffix);
  let sent = 0;
  let mismatches = 0;
  const examples: string[] = [];
  let responseBytes: number | undefined;
  let latencies = new Float64Array(16_384);
  let recorded = 0;

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
          responseBytes ??= Buffer.byteLength(body);
          // Non-2xx responses are counted by autocannon.
          if (status < 200 || status > 299) return;
          const problem = responseProblem(status, body, context.uid, options.expectPatch);
          if (problem === undefined) return;
          mismatches++;
          if (examples.length < 5) examples.push(problem);
        },
      },
    ],
  });
  current = instance;
  instance.on('response', (_client: unknown, _status: number, _bytes: number, responseTimeMs: number) => {
    if (recorded === latencies.length) {
      const grown = new Float64Array(latencies.length * 2);
      grown.set(latencies);
      latencies = grown;
    }
    latencies[recorded++] = responseTimeMs;
  });
  try {
    const result = await instance;
    const sorted = latencies.slice(0, recorded).sort();
    let total = 0;
    for (const v of sorted) total += v;
    const requests = recorded;
    const errors = result.errors + result.non2xx + mismatches;
    return {
      requests,
      durationSeconds: result.duration,
      requestsPerSecond: requests / result.duration,
      latencyMs: {
        p50: quantile(sorted, 0.5),
        p99: quantile(sorted, 0.99),
        max: sorted[sorted.length - 1] ?? Number.NaN,
        mean: requests === 0 ? Number.NaN : total / requests,
      },
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
