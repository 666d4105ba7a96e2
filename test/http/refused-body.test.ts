import { createHash } from 'node:crypto';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { expect } from 'chai';
import { dropBodyInParser } from '../../src/http/refused-body.js';
import { createSelfSignedCertificate } from '../../src/tls/self-signed.js';
import { readResponse, requestHead } from '../support/raw-http.js';
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

/** With a Content-Length, which is all readResponse understands. */
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

/** A body whose hash tells a whole body from a cut or shifted one. */
function body(bytes: number, seed: number): Buffer {
  const out = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

/** The head of a POST of raw bytes to `path`. */
const head = (path: string, bodyLength: number): Buffer =>
  Buffer.from(requestHead('POST', path, bodyLength, 'application/octet-stream'));

const digest = (data: Buffer): string => `${data.length} ${createHash('sha256').update(data).digest('hex')}`;

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

  async function connect(): Promise<tls.TLSSocket> {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    sockets.push(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', resolve);
      socket.once('error', reject);
    });
    return socket;
  }

  it('steps over a refused body sent in pieces: no byte reaches JavaScript, the request ends, and the next request on the connection gets its whole body', async () => {
    const socket = await connect();
    const refusedBody = body(1024 * KIB, 1);
    socket.write(head('/refuse', refusedBody.length));
    const refused = await readResponse(socket);
    expect(refused.status).to.equal(429);
    for (let at = 0; at < refusedBody.length; at += 100 * KIB)
      socket.write(refusedBody.subarray(at, at + 100 * KIB));
    const next = body(300 * KIB, 2);
    socket.write(Buffer.concat([head('/echo', next.length), next]));
    expect((await readResponse(socket)).body).to.equal(digest(next));
    expect(seen.dropped).to.deep.equal([true]);
    expect(seen.refusedBytes).to.equal(0);
    expect(seen.refusedEnded).to.equal(1);
  });

  it('hands the body back in time for a request pipelined right behind the refused one, in the same write', async () => {
    const socket = await connect();
    const refusedBody = body(10 * KIB, 3);
    const next = body(20 * KIB, 4);
    socket.write(
      Buffer.concat([head('/refuse', refusedBody.length), refusedBody, head('/echo', next.length), next]),
    );
    expect((await readResponse(socket)).status).to.equal(429);
    expect((await readResponse(socket)).body).to.equal(digest(next));
    expect(seen.dropped).to.deep.equal([true]);
    expect(seen.refusedBytes).to.equal(0);
  });

  it('puts the parser back when the connection closes mid-body, before Node gives it to the next connection', async () => {
    const first = await connect();
    first.write(Buffer.concat([head('/refuse', 512 * KIB), body(64 * KIB, 5)]));
    expect((await readResponse(first)).status).to.equal(429);
    first.destroy();
    // Node frees the parser into its pool as the server side of the connection closes.
    await waitFor(() => serverClosed === 1, 'the server side of the connection to close');
    const second = await connect();
    const next = body(40 * KIB, 6);
    second.write(Buffer.concat([head('/echo', next.length), next]));
    expect((await readResponse(second)).body).to.equal(digest(next));
    // The second connection was given the very parser the refused request left: that is what this tests.
    expect(seen.parsers[1]).to.equal(seen.parsers[0]);
  });

  it('leaves a request whose body has all arrived alone: its callbacks have run already', async () => {
    const socket = await connect();
    const refusedBody = body(4 * KIB, 7);
    const next = body(8 * KIB, 8);
    socket.write(Buffer.concat([head('/refuse-after-end', refusedBody.length), refusedBody]));
    expect((await readResponse(socket)).status).to.equal(429);
    socket.write(Buffer.concat([head('/echo', next.length), next]));
    expect((await readResponse(socket)).body).to.equal(digest(next));
    expect(seen.dropped).to.deep.equal([false]);
  });
});
