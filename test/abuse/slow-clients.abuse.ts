/**
 * Slow and idle clients. While they trickle, normal reviews must still be answered in under a second;
 * a client that never finishes must be cut off by the server, not held forever; and on SIGTERM such
 * connections must not hold the shutdown back.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import tls from 'node:tls';
import { headerBytes, normalReviewBody, Prober, trickle, type Trickle } from './support/client.js';
import { record } from './support/report.js';
import { describeExit, HOST, WebhookProcess } from './support/server.js';

const PROBE_BOUND_MS = 1_000;
/** The shipped default shutdownDelaySeconds: the listener stays open this long after SIGTERM. */
const SHUTDOWN_DELAY_SECONDS = 5;
/** Exit expected within the delay plus this, with only idle and stalled connections left. */
const SHUTDOWN_SLACK_MS = 3_000;

/** Opens a TLS connection and sends nothing; closed by the caller (or by the server). */
function idleConnection(port: number, ca: string): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: HOST, port, ca }, () => {
      resolve(socket);
    });
    socket.on('error', reject);
  });
}

describe('abuse: slow and idle clients', function () {
  let server: WebhookProcess | undefined;

  beforeEach(async function () {
    this.timeout(30_000);
    if (server === undefined || !server.alive) server = await WebhookProcess.start();
  });

  after(async () => {
    await server?.kill();
  });

  it('normal reviews are answered in under 1 s while 200 idle connections and 50 slow clients trickle', async function () {
    this.timeout(60_000);
    const webhook = server!;
    const mark = webhook.outputMark();
    const idle = await Promise.all(
      Array.from({ length: 200 }, () => idleConnection(webhook.port, webhook.ca)),
    );
    const review = normalReviewBody('abuse-trickled');
    const trickles: Promise<Trickle>[] = [];
    for (let i = 0; i < 25; i++) {
      // Headers one byte per 100 ms, then (if it gets that far) the body.
      trickles.push(
        trickle({
          port: webhook.port,
          ca: webhook.ca,
          data: Buffer.concat([headerBytes(review.length), review]),
          bytesPerTick: 1,
          tickMs: 100,
          stopAfterMs: 4_000,
        }),
      );
      // Headers at once, the body 1 byte per 100 ms.
      trickles.push(
        trickle({
          port: webhook.port,
          ca: webhook.ca,
          data: Buffer.concat([headerBytes(review.length), review]),
          burst: headerBytes(review.length).length,
          bytesPerTick: 1,
          tickMs: 100,
          stopAfterMs: 4_000,
        }),
      );
    }
    const prober = new Prober(webhook.port, webhook.ca);
    let probes;
    try {
      await prober.warm();
      probes = await prober.during(Promise.all(trickles));
    } finally {
      prober.close();
      for (const socket of idle) socket.destroy();
    }
    const problems: string[] = [];
    if (!webhook.alive) problems.push(`the server died: ${describeExit(webhook.exit!)}`);
    if (probes.maxMs >= PROBE_BOUND_MS) problems.push(`a normal review took ${Math.round(probes.maxMs)} ms`);
    if (probes.failures.length > 0)
      problems.push(`${probes.failures.length} normal reviews failed, e.g. ${probes.failures[0]!}`);
    record({
      suite: 'slow clients',
      name: '200 idle connections and 50 slow clients for 4 s',
      passed: problems.length === 0,
      answer: 'the slow clients were stopped by the suite after 4 s',
      probes: probes.count,
      probeMaxMs: probes.maxMs,
      problems,
    });
    if (problems.length > 0)
      throw new Error(`${problems.join('\n')}\n--- server output ---\n${webhook.outputSince(mark)}`);
  });

  it('a review whose body is trickled 20 bytes per 100 ms is answered once complete', async function () {
    this.timeout(60_000);
    const webhook = server!;
    const review = normalReviewBody('abuse-slow-body');
    const prober = new Prober(webhook.port, webhook.ca);
    let probes;
    let result: Trickle;
    try {
      await prober.warm();
      const slow = trickle({
        port: webhook.port,
        ca: webhook.ca,
        data: Buffer.concat([headerBytes(review.length), review]),
        bytesPerTick: 20,
        tickMs: 100,
        stopAfterMs: 20_000,
      });
      probes = await prober.during(slow);
      result = await slow;
    } finally {
      prober.close();
    }
    const problems: string[] = [];
    if (result.statusLine !== 'HTTP/1.1 200 OK')
      problems.push(
        `the trickled review got ${result.statusLine ?? 'no answer'} after ${Math.round(result.ms)} ms`,
      );
    if (probes.maxMs >= PROBE_BOUND_MS) problems.push(`a normal review took ${Math.round(probes.maxMs)} ms`);
    if (!webhook.alive) problems.push(`the server died: ${describeExit(webhook.exit!)}`);
    record({
      suite: 'slow clients',
      name: `a ${review.length}-byte review trickled 20 bytes per 100 ms`,
      passed: problems.length === 0,
      answer: `${result.statusLine ?? 'no answer'} after ${Math.round(result.ms)} ms`,
      probes: probes.count,
      probeMaxMs: probes.maxMs,
      problems,
    });
    if (problems.length > 0) throw new Error(problems.join('\n'));
  });
});

describe('abuse: shutdown with idle and stalled connections', function () {
  it(`SIGTERM exits within shutdownDelaySeconds (${SHUTDOWN_DELAY_SECONDS}) + ${SHUTDOWN_SLACK_MS / 1000} s despite an idle keep-alive connection and a slow client`, async function () {
    this.timeout(60_000);
    const webhook = await WebhookProcess.start({
      POD_HARDENER_SHUTDOWN_DELAY_SECONDS: String(SHUTDOWN_DELAY_SECONDS),
    });
    const mark = webhook.outputMark();
    const bound = SHUTDOWN_DELAY_SECONDS * 1000 + SHUTDOWN_SLACK_MS;
    // A keep-alive connection left idle after one review, as the API server's client leaves them.
    const prober = new Prober(webhook.port, webhook.ca);
    await prober.warm();
    const slow = trickle({
      port: webhook.port,
      ca: webhook.ca,
      data: Buffer.from(`POST /mutate HTTP/1.1\r\nHost: ${HOST}\r\n` + 'X-Abuse: 1\r\n'.repeat(10_000)),
      bytesPerTick: 1,
      tickMs: 100,
      stopAfterMs: 60_000,
    });
    await sleep(500);
    // Kill it outright if it is still up long after the bound, so the suite stays bounded.
    const stopped = await webhook.terminate(bound + 4_000);
    prober.close();
    await slow;
    const problems: string[] = [];
    if (stopped.forced)
      problems.push(`still running ${((bound + 4_000) / 1000).toFixed(0)} s after SIGTERM; killed`);
    else if (stopped.ms > bound) problems.push(`exited ${(stopped.ms / 1000).toFixed(1)} s after SIGTERM`);
    if (!stopped.forced && stopped.exit.code !== 0) problems.push(`exit: ${describeExit(stopped.exit)}`);
    record({
      suite: 'shutdown',
      name: 'SIGTERM with an idle keep-alive connection and a slow client open',
      passed: problems.length === 0,
      answer: stopped.forced
        ? `killed after ${(stopped.ms / 1000).toFixed(1)} s`
        : `${describeExit(stopped.exit)} ${(stopped.ms / 1000).toFixed(1)} s after SIGTERM`,
      problems,
    });
    if (problems.length > 0)
      throw new Error(`${problems.join('\n')}\n--- server output ---\n${webhook.outputSince(mark)}`);
  });
});
