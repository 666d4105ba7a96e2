import { createHash } from 'node:crypto';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { expect } from 'chai';
import { dropBodyInParser } from '../../src/http/refused-body.js';
import { createSelfSignedCertificate } from '../../src/tls/self-signed.js';
import { waitFor } from '../support/wait.js';

// Real TLS, and requests written byte by byte by a raw client, so that the test decides what arrives
// in which write: a refused body in pieces, a next request pipelined behind it, a connection cut off
// in the middle of a body.

const KIB = 1024;

interface Seen {
  /** What dropBodyInParser returned, per refused request. */
  dropped: boolean[];
  /** Body bytes that reached JavaScript for refused requests. */
  refusedBytes: number;
  /** Refused requests whose 'end' came. */
  refusedEnded: number;
  /** The parser objects of the requests, in arrival order (Node pools them across connections). */
  parsers: unknown[];
}

/** With a Content-Length, which is all ResponseReader understands. */
function send(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-length': Buffer.byteLength(text) }).end(text);
}

function handler(seen: Seen) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    seen.parsers.push((req.socket as unknown as { parser?: unknown }).parser);
    if (req.url === '/refuse') {
      seen.dropped.push(dropBodyInParser(req));
      req.on('data', (chunk: Buffer) => (seen.refusedBytes += chunk.length));
      req.on('end', () => (seen.refusedEnded += 1));
      send(res, 429, 'refused');
      return;
    }
    if (req.url === '/refuse-after-end') {
      req.resume();
      req.on('end', () => {
        seen.dropped.push(dropBodyInParser(req));
        send(res, 429, 'refused');
      });
      return;
    }
    const hash = createHash('sha256');
    let length = 0;
    req.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      length += chunk.length;
    });
    req.on('end', () => {
      send(res, 200, `${length} ${hash.digest('hex')}`);
    });
  };
}

function requestHead(path: string, bodyLength: number): Buffer {
  return Buffer.from(
    `POST ${path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/octet-stream\r\n` +
      `Content-Length: ${bodyLength}\r\n\r\n`,
  );
}

/** A body whose hash tells a whole body from a cut or shifted one. */
function body(bytes: number, seed: number): Buffer {
  const out = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

const digest = (data: Buffer): string => `${data.length} ${createHash('sha256').update(data).digest('hex')}`;

/** Reads HTTP/1.1 responses with a Content-Length body off a raw connection. */
class ResponseReader {
  private buffered = Buffer.alloc(0);
  private readonly waiting: (() => void)[] = [];

  constructor(socket: tls.TLSSocket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      for (const wake of this.waiting.splice(0)) wake();
    });
  }

  async next(): Promise<{ status: number; body: string }> {
    for (;;) {
      const end = this.buffered.indexOf('\r\n\r\n');
      if (end >= 0) {
        const head = this.buffered.subarray(0, end).toString();
        const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (this.buffered.length >= end + 4 + length) {
          const status = Number(head.split(' ')[1]);
          const text = this.buffered.subarray(end + 4, end + 4 + length).toString();
          this.buffered = this.buffered.subarray(end + 4 + length);
          return { status, body: text };
        }
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }
}

describe('http/refused-body', function () {
  this.timeout(20_000);

  let server: https.Server;
  let port: number;
  let seen: Seen;
  const sockets: tls.TLSSocket[] = [];
  let serverClosed = 0;

  before(async () => {
    const pair = await createSelfSignedCertificate();
    seen = { dropped: [], refusedBytes: 0, refusedEnded: 0, parsers: [] };
    server = https.createServer({ cert: pair.certPem, key: pair.keyPem }, handler(seen));
    // Added after Node's own listeners, so it runs once the connection's parser is back in the pool.
    server.on('secureConnection', (socket: tls.TLSSocket) => {
      socket.on('close', () => (serverClosed += 1));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  beforeEach(() => {
    seen.dropped = [];
    seen.refusedBytes = 0;
    seen.refusedEnded = 0;
    seen.parsers = [];
    serverClosed = 0;
  });

  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.destroy();
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) =>
      server.close(() => {
        resolve();
      }),
    );
  });

  async function connect(): Promise<{ socket: tls.TLSSocket; responses: ResponseReader }> {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    sockets.push(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', resolve);
      socket.once('error', reject);
    });
    return { socket, responses: new ResponseReader(socket) };
  }

  it('steps over a refused body sent in pieces: no byte reaches JavaScript, the request ends, and the next request on the connection gets its whole body', async () => {
    const { socket, responses } = await connect();
    const refusedBody = body(1024 * KIB, 1);
    socket.write(requestHead('/refuse', refusedBody.length));
    const refused = await responses.next();
    expect(refused.status).to.equal(429);
    for (let at = 0; at < refusedBody.length; at += 100 * KIB)
      socket.write(refusedBody.subarray(at, at + 100 * KIB));
    const next = body(300 * KIB, 2);
    socket.write(Buffer.concat([requestHead('/echo', next.length), next]));
    expect((await responses.next()).body).to.equal(digest(next));
    expect(seen.dropped).to.deep.equal([true]);
    expect(seen.refusedBytes).to.equal(0);
    expect(seen.refusedEnded).to.equal(1);
  });

  it('hands the body back in time for a request pipelined right behind the refused one, in the same write', async () => {
    const { socket, responses } = await connect();
    const refusedBody = body(10 * KIB, 3);
    const next = body(20 * KIB, 4);
    socket.write(
      Buffer.concat([
        requestHead('/refuse', refusedBody.length),
        refusedBody,
        requestHead('/echo', next.length),
        next,
      ]),
    );
    expect((await responses.next()).status).to.equal(429);
    expect((await responses.next()).body).to.equal(digest(next));
    expect(seen.dropped).to.deep.equal([true]);
    expect(seen.refusedBytes).to.equal(0);
  });

  it('puts the parser back when the connection closes mid-body, before Node gives it to the next connection', async () => {
    const first = await connect();
    first.socket.write(Buffer.concat([requestHead('/refuse', 512 * KIB), body(64 * KIB, 5)]));
    expect((await first.responses.next()).status).to.equal(429);
    first.socket.destroy();
    // Node frees the parser into its pool as the server side of the connection closes.
    await waitFor(() => serverClosed === 1, 'the server side of the connection to close');
    const second = await connect();
    const next = body(40 * KIB, 6);
    second.socket.write(Buffer.concat([requestHead('/echo', next.length), next]));
    expect((await second.responses.next()).body).to.equal(digest(next));
    // The second connection was given the very parser the refused request left: that is what this tests.
    expect(seen.parsers[1]).to.equal(seen.parsers[0]);
  });

  it('leaves a request whose body has all arrived alone: its callbacks have run already', async () => {
    const { socket, responses } = await connect();
    const refusedBody = body(4 * KIB, 7);
    const next = body(8 * KIB, 8);
    socket.write(Buffer.concat([requestHead('/refuse-after-end', refusedBody.length), refusedBody]));
    expect((await responses.next()).status).to.equal(429);
    socket.write(Buffer.concat([requestHead('/echo', next.length), next]));
    expect((await responses.next()).body).to.equal(digest(next));
    expect(seen.dropped).to.deep.equal([false]);
  });
});
