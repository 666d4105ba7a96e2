import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { captureLog } from '../support/log-capture.js';
import { expect } from 'chai';
import { controllerCreateReview } from '../../bench/corpus.js';
import type { NamespaceLookup, NamespaceSource } from '../../src/engine/resolve/namespace.js';
import {
  SMALL_REQUEST_BYTES,
  SMALL_REQUEST_RESERVE_BYTES,
  type BackPressure,
} from '../../src/http/back-pressure.js';
import { createMetrics } from '../../src/metrics/index.js';
import { createLogger } from '../../src/logger.js';
import { testApp } from '../support/app.js';
import { rawRequest, readResponse } from '../support/raw-http.js';

const KIB = 1024;

/** An AdmissionReview of about `padBytes` more than a bare pod (an annotation carries the padding). */
function review(uid: string, padBytes = 0): Buffer {
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', namespace: 'team-a', annotations: { pad: 'x'.repeat(padBytes) } },
    spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] },
  };
  return Buffer.from(JSON.stringify(controllerCreateReview(pod, uid)));
}

/**
 * A namespace source that holds every lookup until released, so a request stays in flight (its body
 * read, its answer not yet sent) for as long as a test needs, with no timing involved.
 */
class GatedNamespaces implements NamespaceSource {
  private waiting: (() => void)[] = [];
  private entered: (() => void)[] = [];

  lookup(): Promise<NamespaceLookup> {
    for (const notify of this.entered.splice(0)) notify();
    return new Promise((resolve) => {
      this.waiting.push(() => {
        resolve({ kind: 'off' });
      });
    });
  }

  synced(): boolean {
    return true;
  }

  /** Resolves once a review is waiting on its lookup. */
  nextLookup(): Promise<void> {
    return new Promise((resolve) => this.entered.push(resolve));
  }

  releaseAll(): void {
    for (const release of this.waiting.splice(0)) release();
  }
}

interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

interface Harness {
  readonly port: number;
  readonly namespaces: GatedNamespaces;
  readonly logs: () => Record<string, unknown>[];
  readonly metric: (name: string) => Promise<string>;
  close(): Promise<void>;
}

async function harness(backPressure: BackPressure, maxBodyBytes = 512 * KIB): Promise<Harness> {
  const log = captureLog();
  const metrics = createMetrics({ defaultMetrics: false });
  const namespaces = new GatedNamespaces();
  const app = testApp({
    namespaces,
    metrics,
    logger: createLogger('debug', { stream: log.stream }),
    maxBodyBytes,
    backPressure,
  });
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    namespaces,
    logs: () => log.lines(),
    metric: async (name) =>
      (await metrics.registry.metrics())
        .split('\n')
        .filter((l) => l.startsWith(name))
        .join('\n'),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

/** POSTs a body, with a Content-Length or, `chunked`, in 16 KiB chunks without one. */
function post(port: number, body: Buffer, options: { chunked?: boolean } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: '/mutate',
        method: 'POST',
        agent: false,
        headers: options.chunked
          ? { 'content-type': 'application/json' }
          : { 'content-type': 'application/json', 'content-length': String(body.length) },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(parts).toString(),
          });
        });
      },
    );
    // A refused chunked upload is cut off; the answer that came first is what counts.
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') reject(err);
    });
    if (options.chunked) {
      for (let at = 0; at < body.length; at += 16 * KIB) req.write(body.subarray(at, at + 16 * KIB));
      req.end();
    } else {
      req.end(body);
    }
  });
}

const WAIT_OFF: Pick<BackPressure, 'maxReviewWaitSeconds'> = { maxReviewWaitSeconds: 1e6 };

describe('http/app back-pressure', () => {
  let h: Harness | undefined;
  const sockets: net.Socket[] = [];
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    h?.namespaces.releaseAll();
    await h?.close();
    h = undefined;
  });

  it('refuses a request whose Content-Length would go over the in-flight budget with 429 and Retry-After, and admits again once the budget is free', async () => {
    const first = review('first', 100 * KIB);
    const second = review('second', 100 * KIB);
    // Room for one of these bodies, not two.
    h = await harness({ ...WAIT_OFF, maxInFlightBytes: first.length + SMALL_REQUEST_RESERVE_BYTES + KIB });
    const held = h.namespaces.nextLookup();
    const firstAnswer = post(h.port, first);
    await held;
    expect(await h.metric('pod_hardener_in_flight_request_bytes')).to.include(
      `pod_hardener_in_flight_request_bytes ${first.length}`,
    );

    const refused = await post(h.port, second);
    expect(refused.status).to.equal(429);
    expect(refused.headers['retry-after']).to.equal('1');
    expect(JSON.parse(refused.body))
      .to.have.property('error')
      .that.matches(/in flight/);
    expect(await h.metric('pod_hardener_rejected_requests_total')).to.include(
      'pod_hardener_rejected_requests_total{reason="in_flight_bytes"} 1',
    );

    h.namespaces.releaseAll();
    expect((await firstAnswer).status).to.equal(200);
    expect(await h.metric('pod_hardener_in_flight_request_bytes')).to.include(
      'pod_hardener_in_flight_request_bytes 0',
    );
    const again = h.namespaces.nextLookup();
    const admitted = post(h.port, second);
    await again;
    h.namespaces.releaseAll();
    expect((await admitted).status).to.equal(200);
  });

  it('always admits a request when nothing else is in flight, whatever the budget', async () => {
    h = await harness({ ...WAIT_OFF, maxInFlightBytes: 1 });
    const held = h.namespaces.nextLookup();
    const answer = post(h.port, review('alone', 10 * KIB));
    await held;
    h.namespaces.releaseAll();
    expect((await answer).status).to.equal(200);
  });

  it('keeps a reserve of the budget for small reviews while large bodies fill the rest', async () => {
    const large = review('large', 100 * KIB);
    const small = review('small');
    expect(small.length).to.be.at.most(SMALL_REQUEST_BYTES);
    h = await harness({ ...WAIT_OFF, maxInFlightBytes: large.length + SMALL_REQUEST_RESERVE_BYTES + KIB });
    const held = h.namespaces.nextLookup();
    const first = post(h.port, large);
    await held;
    // A second large body would fit the budget, but not beside the reserve.
    expect((await post(h.port, review('large-2', 100 * KIB))).status).to.equal(429);
    const smallHeld = h.namespaces.nextLookup();
    const smallAnswer = post(h.port, small);
    await smallHeld;
    h.namespaces.releaseAll();
    expect((await smallAnswer).status).to.equal(200);
    expect((await first).status).to.equal(200);
  });

  it('keeps the connection of a refused request: a review pipelined right behind the refused body is answered whole', async () => {
    const large = review('large', 100 * KIB);
    const refused = review('refused', 100 * KIB);
    const small = review('small');
    h = await harness({ ...WAIT_OFF, maxInFlightBytes: large.length + SMALL_REQUEST_RESERVE_BYTES + KIB });
    const held = h.namespaces.nextLookup();
    const first = post(h.port, large);
    await held;
    const socket = net.connect(h.port, '127.0.0.1');
    sockets.push(socket);
    const smallHeld = h.namespaces.nextLookup();
    // The refused body is dropped inside the parser (src/http/refused-body.ts), which must hand the
    // parser back before it reads the next request.
    socket.write(
      Buffer.concat([rawRequest('POST', '/mutate', refused), rawRequest('POST', '/mutate', small)]),
    );
    expect((await readResponse(socket)).status).to.equal(429);
    await smallHeld;
    h.namespaces.releaseAll();
    const reviewed = await readResponse(socket);
    expect(reviewed.status).to.equal(200);
    const body = JSON.parse(reviewed.body) as { response: { uid: string; patch?: string } };
    expect(body.response.uid).to.equal('small');
    expect(body.response.patch).to.be.a('string');
    expect((await first).status).to.equal(200);
  });

  it('counts the bytes of a body without Content-Length as they arrive, and refuses it once they go over', async () => {
    const first = review('first', 10 * KIB);
    h = await harness({ ...WAIT_OFF, maxInFlightBytes: first.length + SMALL_REQUEST_RESERVE_BYTES + KIB });
    const held = h.namespaces.nextLookup();
    const firstAnswer = post(h.port, first);
    await held;

    const refused = await post(h.port, review('streamed', 300 * KIB), { chunked: true });
    expect(refused.status).to.equal(429);
    expect(refused.headers['retry-after']).to.equal('1');
    expect(refused.headers.connection).to.equal('close');
    expect(await h.metric('pod_hardener_rejected_requests_total')).to.include(
      'pod_hardener_rejected_requests_total{reason="in_flight_bytes"} 1',
    );
    h.namespaces.releaseAll();
    expect((await firstAnswer).status).to.equal(200);
    expect(await h.metric('pod_hardener_in_flight_request_bytes')).to.include(
      'pod_hardener_in_flight_request_bytes 0',
    );
  });

  it('answers 503 with Retry-After, before any review, when the review waited behind other work for more than maxReviewWaitSeconds', async () => {
    // The process reports 2.5 s of busy time between the request's arrival and the end of its body.
    h = await harness({
      maxInFlightBytes: 1024 * KIB,
      maxReviewWaitSeconds: 2,
      busyClock: { mark: () => 0, busyMsSince: () => 2_500 },
    });
    const answer = await post(h.port, review('late'));
    expect(answer.status).to.equal(503);
    expect(answer.headers['retry-after']).to.equal('1');
    expect(await h.metric('pod_hardener_rejected_requests_total')).to.include(
      'pod_hardener_rejected_requests_total{reason="review_wait"} 1',
    );
    expect(await h.metric('pod_hardener_admission_reviews_total')).not.to.match(/ [1-9]/);
  });

  it("does not count a slow client's own transfer time as waiting", async () => {
    // 1.5 s of busy time is under the 2 s bound, however long the wall clock says the request took.
    h = await harness({
      maxInFlightBytes: 1024 * KIB,
      maxReviewWaitSeconds: 2,
      busyClock: { mark: () => 0, busyMsSince: () => 1_500 },
      clockMs: () => 60_000,
    });
    const held = h.namespaces.nextLookup();
    const answer = post(h.port, review('slow'));
    await held;
    h.namespaces.releaseAll();
    expect((await answer).status).to.equal(200);
  });

  it('stops counting a body without Content-Length once it is over maxBodyBytes, since none of it is kept', async () => {
    h = await harness({ ...WAIT_OFF, maxInFlightBytes: SMALL_REQUEST_RESERVE_BYTES + 64 * KIB }, 32 * KIB);
    const answer = await post(h.port, review('huge', 200 * KIB), { chunked: true });
    expect(answer.status).to.equal(413);
    expect(await h.metric('pod_hardener_in_flight_request_bytes')).to.include(
      'pod_hardener_in_flight_request_bytes 0',
    );
    expect(await h.metric('pod_hardener_rejected_requests_total')).not.to.match(/ [1-9]/);
  });

  it('logs refusals at most once per interval, with the count of those it held back', async () => {
    const first = review('first', 100 * KIB);
    let now = 0;
    h = await harness({
      ...WAIT_OFF,
      maxInFlightBytes: first.length + SMALL_REQUEST_RESERVE_BYTES + KIB,
      clockMs: () => now,
      logIntervalMs: 10_000,
    });
    const held = h.namespaces.nextLookup();
    const firstAnswer = post(h.port, first);
    await held;
    for (let i = 0; i < 3; i++) expect((await post(h.port, review(`r${i}`, 100 * KIB))).status).to.equal(429);
    now = 10_000;
    expect((await post(h.port, review('r3', 100 * KIB))).status).to.equal(429);
    const warnings = h.logs().filter((l) => l.message === 'refusing admission requests under load');
    expect(warnings.map((w) => w.refused)).to.deep.equal([
      { in_flight_bytes: 1, review_wait: 0 },
      { in_flight_bytes: 3, review_wait: 0 },
    ]);
    h.namespaces.releaseAll();
    expect((await firstAnswer).status).to.equal(200);
  });
});
