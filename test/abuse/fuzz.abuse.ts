/**
 * The fuzz run: at least 10,000 generated bodies (see support/fuzz.ts) over keep-alive connections,
 * a few at a time. No body may crash the server or go unanswered, and no pod-shaped one may get a 5xx.
 * The seed is printed; ABUSE_FUZZ_SEED=<seed> replays a run, ABUSE_FUZZ_RUNS=<n> changes its length.
 * Bodies that failed are written to a directory that is printed, one file per body, named by index.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import {
  describeAnswer,
  endlessHeaders,
  headerBytes,
  post,
  trickle,
  type Answer,
  type Trickle,
} from './support/client.js';
import { fuzzBodyArb, isPodShaped, type FuzzBody } from './support/fuzz.js';
import { record } from './support/report.js';
import { describeExit, notableOutput, WebhookProcess } from './support/server.js';

const DEFAULT_SEED = 20261203;
const MIN_RUNS = 10_000;
const CONCURRENCY = 8;
/** Every fuzz body must be answered within the webhook's timeoutSeconds. */
const ANSWER_BOUND_MS = 5_000;
/** The run stops sending after this long, whatever is left (a wedged server must not hang CI). */
const RUN_BUDGET_MS = 4 * 60_000;
/**
 * A client that never finishes its request must be cut off by then: the server's requestTimeout (30 s)
 * and a little. Node checks its timeouts every connectionsCheckingInterval (30 s by default), which
 * can double that.
 */
const CUT_OFF_BOUND_MS = 35_000;
/** After this many crashes the run stops: the server is plainly not surviving the input. */
const MAX_RESTARTS = 5;

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new Error(`${name} must be an integer, not ${JSON.stringify(raw)}`);
  return n;
}

interface Failure {
  readonly index: number;
  readonly kind: string;
  readonly podShaped: boolean;
  readonly what: string;
}

// The clients that never finish wait for the server's timeouts, so they run alongside the fuzz run
// instead of adding half a minute to the suite.
describe('abuse: fuzz, with clients that never finish their requests connected meanwhile', function () {
  const seed = envNumber('ABUSE_FUZZ_SEED', DEFAULT_SEED);
  const runs = envNumber('ABUSE_FUZZ_RUNS', MIN_RUNS);
  let server: WebhookProcess | undefined;
  let endless: { server: WebhookProcess; headers: Promise<Trickle>; body: Promise<Trickle> } | undefined;
  let bodies: FuzzBody[] = [];
  let podShaped: boolean[] = [];

  before(async function () {
    this.timeout(5 * 60_000);
    // Generated before anything is connected: generation keeps this process busy for seconds, which
    // would stall the slow clients' own timers and TLS handshakes.
    process.stdout.write(`      fuzz: seed ${seed} (ABUSE_FUZZ_SEED=${seed} replays it), ${runs} bodies\n`);
    const generated = performance.now();
    bodies = fc.sample(fuzzBodyArb, { seed, numRuns: runs });
    podShaped = bodies.map((b) => isPodShaped(b.body));
    process.stdout.write(
      `      fuzz: generated in ${Math.round(performance.now() - generated)} ms; ` +
        `${podShaped.filter(Boolean).length} pod-shaped, ` +
        `${bodies.reduce((n, b) => n + b.body.length, 0) >> 10} KiB in all\n`,
    );
    server = await WebhookProcess.start();
    const { port, ca } = server;
    const bodyHead = headerBytes(1024 * 1024);
    endless = {
      server,
      headers: trickle({
        port,
        ca,
        data: endlessHeaders(),
        bytesPerTick: 1,
        tickMs: 100,
        stopAfterMs: CUT_OFF_BOUND_MS,
      }),
      body: trickle({
        port,
        ca,
        data: Buffer.concat([bodyHead, Buffer.from('{"a":"' + 'x'.repeat(10_000))]),
        burst: bodyHead.length,
        bytesPerTick: 1,
        tickMs: 100,
        stopAfterMs: CUT_OFF_BOUND_MS,
      }),
    };
  });

  after(async () => {
    await server?.kill();
  });

  it(`${runs} generated bodies (seed ${seed}): no crash, no unanswered body, no 5xx for a pod-shaped one`, async function () {
    this.timeout(10 * 60_000);
    const failures: Failure[] = [];
    const crashes: string[] = [];
    const statuses = new Map<string, number>();
    let maxMs = 0;
    let slowest = -1;
    let restarts = 0;
    let webhook = server!;
    let agent = new https.Agent({ keepAlive: true, maxSockets: CONCURRENCY, ca: webhook.ca });
    const inFlight = new Set<number>();
    const mark = webhook.outputMark();
    const outputs: string[] = [];
    let next = 0;
    const cpuBefore = webhook.cpuSeconds() ?? 0;
    const clientCpuBefore = process.cpuUsage();
    const started = performance.now();
    const deadline = started + RUN_BUDGET_MS;

    const recordAnswer = (index: number, answer: Answer): void => {
      const body = bodies[index]!;
      const key = answer.status === undefined ? 'no answer' : `${Math.floor(answer.status / 100)}xx`;
      statuses.set(key, (statuses.get(key) ?? 0) + 1);
      if (answer.ms > maxMs) {
        maxMs = answer.ms;
        slowest = index;
      }
      const fail = (what: string): void => {
        failures.push({ index, kind: body.kind, podShaped: podShaped[index]!, what });
      };
      if (answer.status === undefined) fail(describeAnswer(answer));
      else if (answer.status >= 500 && podShaped[index]) fail(describeAnswer(answer));
      else if (answer.ms > ANSWER_BOUND_MS)
        fail(`over the ${ANSWER_BOUND_MS} ms bound: ${describeAnswer(answer)}`);
    };

    // One restart per dead (or wedged) server, however many workers notice it.
    let restarting: Promise<void> | undefined;
    const replace = (dead: WebhookProcess, index: number): Promise<void> => {
      if (webhook !== dead) return Promise.resolve();
      restarting ??= (async () => {
        if (dead.alive && (await dead.healthz(3_000)) === 200) return;
        const why = dead.alive ? 'unresponsive (killed)' : describeExit(dead.exit!);
        crashes.push(`${why}; bodies in flight: ${[index, ...inFlight].join(', ')}`);
        await dead.kill();
        outputs.push(dead.outputSince(dead === server ? mark : 0));
        restarts += 1;
        if (restarts > MAX_RESTARTS) return;
        agent.destroy();
        webhook = await WebhookProcess.start();
        agent = new https.Agent({ keepAlive: true, maxSockets: CONCURRENCY, ca: webhook.ca });
      })().finally(() => {
        restarting = undefined;
      });
      return restarting;
    };

    const worker = async (): Promise<void> => {
      while (next < bodies.length && restarts <= MAX_RESTARTS && performance.now() < deadline) {
        await restarting;
        const index = next++;
        const target = webhook;
        inFlight.add(index);
        const answer = await post({
          port: target.port,
          ca: target.ca,
          body: bodies[index]!.body,
          agent,
          timeoutMs: ANSWER_BOUND_MS * 2,
        });
        inFlight.delete(index);
        recordAnswer(index, answer);
        if (answer.status === undefined) await replace(target, index);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    agent.destroy();
    server = webhook;
    const seconds = (performance.now() - started) / 1000;
    const serverCpu = restarts === 0 ? (webhook.cpuSeconds() ?? 0) - cpuBefore : undefined;
    const clientCpu = process.cpuUsage(clientCpuBefore);
    const health = await webhook.healthz(3_000);
    const peak = webhook.peakRssBytes();

    const problems: string[] = [];
    const sent = statuses.size === 0 ? 0 : [...statuses.values()].reduce((a, b) => a + b, 0);
    if (sent < bodies.length)
      problems.push(`only ${sent} of ${bodies.length} bodies were sent (crashes or the time budget)`);
    if (crashes.length > 0) problems.push(`${crashes.length} crash(es): ${crashes.join('; ')}`);
    if (!webhook.alive) problems.push(`the server died at the end: ${describeExit(webhook.exit!)}`);
    else if (health !== 200) problems.push(`GET /healthz afterwards: ${health ?? 'no answer'}`);
    if (failures.length > 0) {
      const dir = path.join(os.tmpdir(), `pod-hardener-abuse-fuzz-${seed}`);
      mkdirSync(dir, { recursive: true });
      for (const f of failures.slice(0, 200))
        writeFileSync(path.join(dir, `${f.index}.json`), bodies[f.index]!.body);
      const shown = failures
        .slice(0, 10)
        .map((f) => `#${f.index} (${f.kind}${f.podShaped ? ', pod-shaped' : ''}): ${f.what}`);
      problems.push(
        `${failures.length} failed bodies (written to ${dir}, by index; replay with ABUSE_FUZZ_SEED=${seed}):\n  ${shown.join('\n  ')}`,
      );
    }
    const summary =
      `${bodies.length} bodies in ${seconds.toFixed(1)} s; ` +
      [...statuses.entries()].map(([k, n]) => `${k}: ${n}`).join(', ') +
      `; slowest ${Math.round(maxMs)} ms (#${slowest}, ${bodies[slowest]?.kind ?? '?'}, ` +
      `${((bodies[slowest]?.body.length ?? 0) / 1024).toFixed(0)} KiB); ${restarts} restart(s); ` +
      `CPU: server ${serverCpu === undefined ? '?' : serverCpu.toFixed(1)} s, ` +
      `client ${((clientCpu.user + clientCpu.system) / 1e6).toFixed(1)} s`;
    process.stdout.write(`      fuzz: ${summary}\n`);
    record({
      suite: 'fuzz',
      name: `${bodies.length} generated bodies, seed ${seed}`,
      passed: problems.length === 0,
      answer: summary,
      ...(peak === undefined ? {} : { peakRssBytes: peak }),
      problems,
    });
    if (problems.length > 0) {
      const output = [...outputs, webhook.outputSince(outputs.length === 0 ? mark : 0)].join(
        '\n--- restarted ---\n',
      );
      throw new Error(
        `${problems.join('\n')}\n--- the server's errors (distinct; rejected bodies not shown) ---\n${notableOutput(output)}`,
      );
    }
  });

  it(`clients that never finish their headers or their body are cut off within ${CUT_OFF_BOUND_MS / 1000} s`, async function () {
    this.timeout(CUT_OFF_BOUND_MS + 10_000);
    const { headers, body, server: target } = endless!;
    const [h, b] = await Promise.all([headers, body]);
    const cut = (t: Trickle): boolean => t.closedByServer || t.statusLine !== undefined;
    const describeTrickle = (t: Trickle): string =>
      cut(t)
        ? `cut off after ${(t.ms / 1000).toFixed(1)} s (${t.bytesWritten} bytes sent` +
          `${t.statusLine === undefined ? ', connection closed' : `, answer "${t.statusLine}"`})`
        : `still open after ${(t.ms / 1000).toFixed(1)} s`;
    const problems: string[] = [];
    if (!target.alive) problems.push(`the server they were connected to died: ${describeExit(target.exit!)}`);
    if (!cut(h)) problems.push(`endless headers: ${describeTrickle(h)}`);
    if (!cut(b)) problems.push(`endless body: ${describeTrickle(b)}`);
    record({
      suite: 'slow clients',
      name: 'endless headers and an endless body, 1 byte per 100 ms (during the fuzz run)',
      passed: problems.length === 0,
      answer: `headers: ${describeTrickle(h)}; body: ${describeTrickle(b)}`,
      problems,
    });
    if (problems.length > 0) throw new Error(problems.join('\n'));
  });
});
