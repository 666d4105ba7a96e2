/**
 * Engine-only cost, in process, with no HTTP: parseAdmissionReview + reviewAdmission (policy, every
 * control, the fast-json-patch diff, base64, audit annotations) on pods of growing size, timed one call
 * at a time with process.hrtime.bigint over a fixed number of iterations after a warm-up.
 */
import { Session } from 'node:inspector/promises';
import {
  DEFAULT_ENGINE_SETTINGS,
  LOOKUPS_OFF,
  parseAdmissionReview,
  reviewAdmission,
  wrapResponse,
  type ReviewDeps,
} from '../src/engine/index.js';
import { controllerCreateReview, deploymentPod, reviewBytes } from './corpus.js';

export const ENGINE_CONTAINER_COUNTS = [1, 3, 10, 30, 100] as const;

export interface EngineResult {
  readonly containers: number;
  readonly reviewBytes: number;
  readonly iterations: number;
  readonly opsPerSecond: number;
  readonly meanMicros: number;
  readonly p50Micros: number;
  readonly p99Micros: number;
  readonly maxMicros: number;
  /** meanMicros / containers. */
  readonly microsPerContainer: number;
  /** Median of the same work plus JSON.parse of the request text and JSON.stringify of the response. */
  readonly withJsonP50Micros: number;
  readonly patchBytes: number;
  /**
   * Bytes the call allocates on the V8 heap, nearly all of it garbage by the next scavenge. Unlike time,
   * it does not move with what else the machine runs, and it sets how often a call pays for a scavenge:
   * at about 1 ms each, a scavenge every 100 calls or fewer is what puts the engine's p99 near 1 ms.
   */
  readonly allocatedBytesPerCall: number;
}

export interface EngineFit {
  /** Least-squares fit of mean µs against containers: cost ≈ intercept + slope × containers. */
  readonly interceptMicros: number;
  readonly slopeMicrosPerContainer: number;
  readonly r2: number;
}

export interface EngineOptions {
  /** Timed calls for the 1-container pod; larger pods get proportionally fewer (at least minIterations). */
  readonly iterations: number;
  readonly minIterations: number;
  /** Untimed calls before timing, per size, as a fraction of the timed ones... */
  readonly warmupFraction: number;
  /** ...and at least this many, so that even a short run times optimised code. */
  readonly minWarmup: number;
}

export const DEFAULT_ENGINE_OPTIONS: EngineOptions = {
  iterations: 20_000,
  minIterations: 1_000,
  warmupFraction: 0.25,
  minWarmup: 500,
};

const DEPS: ReviewDeps = { settings: DEFAULT_ENGINE_SETTINGS, namespaces: LOOKUPS_OFF };

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

async function engineOnce(body: unknown): Promise<string | undefined> {
  const parsed = parseAdmissionReview(body);
  if ('error' in parsed) throw new Error(`corpus review rejected: ${parsed.error}`);
  const result = await reviewAdmission(parsed.review, DEPS);
  return result.response.patch;
}

async function withJsonOnce(text: string): Promise<number> {
  const parsed = parseAdmissionReview(JSON.parse(text));
  if ('error' in parsed) throw new Error(`corpus review rejected: ${parsed.error}`);
  const result = await reviewAdmission(parsed.review, DEPS);
  return JSON.stringify(wrapResponse(result.response)).length;
}

/** Runs `fn` `warmup` times untimed, then `iterations` times timed; returns sorted durations in µs. */
async function time(fn: () => Promise<unknown>, warmup: number, iterations: number): Promise<Float64Array> {
  for (let i = 0; i < warmup; i++) await fn();
  const samples = new Float64Array(iterations);
  for (let i = 0; i < iterations; i++) {
    const start = process.hrtime.bigint();
    await fn();
    samples[i] = Number(process.hrtime.bigint() - start) / 1e3;
  }
  return samples.sort();
}

/**
 * V8's sampling heap profiler, told to keep the samples of objects the garbage collector has freed, so
 * that it counts what was allocated rather than what survived. Each sample stands for about
 * `samplingInterval` bytes (V8 scales each node's selfSize so), so the estimate is close for thousands of
 * samples.
 */
async function allocatedBytesPerCall(fn: () => Promise<unknown>, calls: number): Promise<number> {
  const session = new Session();
  session.connect();
  try {
    await session.post('HeapProfiler.enable');
    // The two include flags are in V8's protocol but not in @types/node's copy of it.
    const parameters = {
      samplingInterval: 4096,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    };
    await session.post('HeapProfiler.startSampling', parameters);
    for (let i = 0; i < calls; i++) await fn();
    const { profile } = await session.post('HeapProfiler.stopSampling');
    let total = 0;
    const stack = [profile.head];
    for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
      total += node.selfSize;
      stack.push(...node.children);
    }
    return total / calls;
  } finally {
    session.disconnect();
  }
}

export async function runEngineBench(
  options: EngineOptions = DEFAULT_ENGINE_OPTIONS,
): Promise<EngineResult[]> {
  const results: EngineResult[] = [];
  for (const containers of ENGINE_CONTAINER_COUNTS) {
    const review = controllerCreateReview(deploymentPod(containers), `engine-${containers}`);
    const text = JSON.stringify(review);
    // The object the HTTP layer would hand over; reviewAdmission never modifies it (harden clones).
    const body: unknown = JSON.parse(text);
    const iterations = Math.max(options.minIterations, Math.round(options.iterations / containers));
    const warmup = Math.max(options.minWarmup, Math.ceil(iterations * options.warmupFraction));

    const patch = await engineOnce(body);
    if (patch === undefined || patch === '') throw new Error(`no patch for the ${containers}-container pod`);

    const samples = await time(() => engineOnce(body), warmup, iterations);
    const jsonSamples = await time(() => withJsonOnce(text), warmup, Math.ceil(iterations / 4));
    const allocated = await allocatedBytesPerCall(() => engineOnce(body), Math.ceil(iterations / 4));

    let total = 0;
    for (const s of samples) total += s;
    const mean = total / samples.length;
    results.push({
      containers,
      reviewBytes: reviewBytes(review),
      iterations,
      opsPerSecond: 1e6 / mean,
      meanMicros: mean,
      p50Micros: percentile(samples, 50),
      p99Micros: percentile(samples, 99),
      maxMicros: samples[samples.length - 1] ?? Number.NaN,
      microsPerContainer: mean / containers,
      withJsonP50Micros: percentile(jsonSamples, 50),
      patchBytes: Buffer.from(patch, 'base64').length,
      allocatedBytesPerCall: allocated,
    });
  }
  return results;
}

/** How well "cost = a + b × containers" describes the means (r² near 1: linear). */
export function fitLinear(results: readonly EngineResult[]): EngineFit {
  const n = results.length;
  const xs = results.map((r) => r.containers);
  const ys = results.map((r) => r.meanMicros);
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = (xs[i] ?? 0) - mx;
    const dy = (ys[i] ?? 0) - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  const slope = sxx === 0 ? 0 : sxy / sxx;
  return {
    interceptMicros: my - slope * mx,
    slopeMicrosPerContainer: slope,
    r2: sxx === 0 || syy === 0 ? 1 : (sxy * sxy) / (sxx * syy),
  };
}
