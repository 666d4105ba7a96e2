/**
 * Talking to the webhook under abuse: one POST with its timing, a prober that keeps sending a normal
 * small review while a hostile one is in flight, and slow clients that trickle bytes.
 */
import https from 'node:https';
import tls from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { controllerCreateReview, smallPod } from '../../../bench/corpus.js';
import { HOST } from './server.js';

/** What the server answered, or why it did not. */
export interface Answer {
  readonly status: number | undefined;
  /** Transport failure (reset, refused, timeout), when there is no status. */
  readonly error: string | undefined;
  /** From the first byte written to the last byte of the answer (or the failure). */
  readonly ms: number;
  readonly bodyBytes: number;
  /** The parsed JSON answer, when it was JSON. */
  readonly json: unknown;
}

export interface PostOptions {
  readonly port: number;
  readonly ca: string;
  readonly body: Buffer;
  readonly agent?: https.Agent;
  /** Give up (and report an error) after this long. */
  readonly timeoutMs: number;
  readonly chunked?: boolean;
}

const MAX_ANSWER_BYTES = 32 * 1024 * 1024;

export function post(options: PostOptions): Promise<Answer> {
  const { port, ca, body, agent, timeoutMs, chunked = false } = options;
  return new Promise((resolve) => {
    const started = performance.now();
    let settled = false;
    const finish = (answer: Omit<Answer, 'ms'>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...answer, ms: performance.now() - started });
    };
    const req = https.request(
      {
        host: HOST,
        port,
        path: '/mutate',
        method: 'POST',
        ca,
        agent: agent ?? false,
        headers: {
          'Content-Type': 'application/json',
          ...(chunked ? {} : { 'Content-Length': String(body.length) }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes <= MAX_ANSWER_BYTES) chunks.push(chunk);
        });
        res.on('end', () => {
          let json: unknown;
          try {
            json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            json = undefined;
          }
          finish({ status: res.statusCode, error: undefined, bodyBytes: bytes, json });
        });
        res.on('error', (err) => {
          finish({ status: res.statusCode, error: err.message, bodyBytes: bytes, json: undefined });
        });
      },
    );
    const timer = setTimeout(() => {
      finish({ status: undefined, error: `no answer within ${timeoutMs} ms`, bodyBytes: 0, json: undefined });
      req.destroy();
    }, timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => {
      // A server that refuses a too-large body may close while the rest is still being written; the
      // answer it sent first, if any, wins (finish ignores what comes after).
      finish({ status: undefined, error: err.code ?? err.message, bodyBytes: 0, json: undefined });
    });
    if (chunked) {
      // 64 KiB writes, so the server sees a stream rather than one buffer.
      const step = 64 * 1024;
      let offset = 0;
      const writeMore = (): void => {
        while (offset < body.length && !settled) {
          const ok = req.write(body.subarray(offset, offset + step));
          offset += step;
          if (!ok) {
            req.once('drain', writeMore);
            return;
          }
        }
        if (!settled) req.end();
      };
      writeMore();
    } else {
      req.end(body);
    }
  });
}

/** The response object of an AdmissionReview answer, when there is one. */
export function admissionResponse(
  answer: Answer,
): { allowed?: unknown; warnings?: unknown; uid?: unknown } | undefined {
  const json = answer.json as
    { response?: { allowed?: unknown; warnings?: unknown; uid?: unknown } } | undefined;
  return json?.response;
}

export function describeAnswer(answer: Answer): string {
  const head = answer.status === undefined ? `no answer (${answer.error ?? '?'})` : `HTTP ${answer.status}`;
  const response = admissionResponse(answer);
  const verdict =
    response === undefined
      ? (answer.json as { error?: unknown } | undefined)?.error !== undefined
        ? ` error "${String((answer.json as { error: unknown }).error).slice(0, 160)}"`
        : ''
      : ` allowed=${String(response.allowed)}${
          Array.isArray(response.warnings) ? `, ${response.warnings.length} warnings` : ''
        }`;
  return `${head}${verdict} after ${Math.round(answer.ms)} ms`;
}

/** A normal small review (a bare one-container pod), the kind every other pod creation sends. */
export function normalReviewBody(uid: string): Buffer {
  return Buffer.from(JSON.stringify(controllerCreateReview(smallPod(), uid)));
}

export interface ProbeStats {
  readonly count: number;
  readonly maxMs: number;
  /** Probes that did not get a 200 AdmissionReview with allowed: true, with what they got. */
  readonly failures: readonly string[];
}

/**
 * Sends a normal review every `intervalMs` over one keep-alive connection (set up beforehand, so the
 * TLS handshake is not measured) until `until` settles, then one more; each waits at most `timeoutMs`.
 */
export class Prober {
  private readonly agent: https.Agent;
  private n = 0;

  constructor(
    private readonly port: number,
    private readonly ca: string,
  ) {
    this.agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca });
  }

  private async once(timeoutMs: number): Promise<Answer> {
    this.n += 1;
    return post({
      port: this.port,
      ca: this.ca,
      body: normalReviewBody(`abuse-probe-${this.n}`),
      agent: this.agent,
      timeoutMs,
    });
  }

  /** One probe; throws unless it is answered 200 and allowed. */
  async warm(): Promise<void> {
    const answer = await this.once(5_000);
    if (answer.status !== 200 || admissionResponse(answer)?.allowed !== true)
      throw new Error(`the normal review was not answered: ${describeAnswer(answer)}`);
  }

  async during(until: Promise<unknown>, intervalMs = 100, timeoutMs = 5_000): Promise<ProbeStats> {
    let done = false;
    void until.finally(() => {
      done = true;
    });
    let maxMs = 0;
    let count = 0;
    const failures: string[] = [];
    const probe = async (): Promise<void> => {
      const answer = await this.once(timeoutMs);
      count += 1;
      maxMs = Math.max(maxMs, answer.ms);
      if (answer.status !== 200 || admissionResponse(answer)?.allowed !== true)
        failures.push(describeAnswer(answer));
    };
    while (!done) {
      const started = performance.now();
      await probe();
      const left = intervalMs - (performance.now() - started);
      if (left > 0 && !done) await sleep(left);
    }
    await probe();
    return { count, maxMs, failures };
  }

  close(): void {
    this.agent.destroy();
  }
}

/** The head of a POST /mutate with this Content-Length, as raw HTTP/1.1. */
export function headerBytes(contentLength: number): Buffer {
  return Buffer.from(
    `POST /mutate HTTP/1.1\r\nHost: ${HOST}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${contentLength}\r\n\r\n`,
  );
}

/** Headers that never end: a new header line every 12 bytes. */
export function endlessHeaders(): Buffer {
  return Buffer.from(`POST /mutate HTTP/1.1\r\nHost: ${HOST}\r\n` + 'X-Abuse: 1\r\n'.repeat(10_000));
}

export interface Trickle {
  /** The server closed the connection (or reset it) before we stopped. */
  readonly closedByServer: boolean;
  readonly bytesWritten: number;
  readonly ms: number;
  /** The first line of the server's answer, if it sent one. */
  readonly statusLine: string | undefined;
}

/**
 * A slow client: connects, then writes `data` `bytesPerTick` bytes every `tickMs` until the server
 * answers, the server closes the connection, or `stopAfterMs` passes. Resolves with what happened.
 */
export function trickle(options: {
  readonly port: number;
  readonly ca: string;
  readonly data: Buffer;
  readonly bytesPerTick: number;
  readonly tickMs: number;
  readonly stopAfterMs: number;
  /** Bytes written at once on connecting (e.g. the whole header), before the trickle. */
  readonly burst?: number;
}): Promise<Trickle> {
  const { port, ca, data, bytesPerTick, tickMs, stopAfterMs, burst = 0 } = options;
  return new Promise((resolve) => {
    const started = performance.now();
    let written = 0;
    let received = '';
    let settled = false;
    let ticker: NodeJS.Timeout | undefined;
    const socket = tls.connect({ host: HOST, port, ca });
    const finish = (closedByServer: boolean): void => {
      if (settled) return;
      settled = true;
      clearInterval(ticker);
      clearTimeout(stopper);
      socket.destroy();
      resolve({
        closedByServer,
        bytesWritten: written,
        ms: performance.now() - started,
        statusLine: received === '' ? undefined : received.split('\r\n', 1)[0],
      });
    };
    const stopper = setTimeout(() => {
      finish(false);
    }, stopAfterMs);
    socket.on('data', (chunk: Buffer) => {
      if (received.length < 4096) received += chunk.toString('latin1');
      // An answer (of any status) ends the trickle: the server has dealt with this client.
      if (received.includes('\r\n\r\n')) finish(false);
    });
    socket.on('end', () => {
      finish(true);
    });
    socket.on('close', () => {
      finish(true);
    });
    socket.on('error', () => {
      finish(true);
    });
    socket.once('secureConnect', () => {
      if (burst > 0) {
        socket.write(data.subarray(0, burst));
        written = burst;
      }
      ticker = setInterval(() => {
        if (written >= data.length) return;
        socket.write(data.subarray(written, written + bytesPerTick));
        written += bytesPerTick;
      }, tickMs);
    });
  });
}
