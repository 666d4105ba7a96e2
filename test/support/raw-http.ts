/**
 * HTTP/1.1 written by hand over a raw TCP or TLS socket, for tests that decide what arrives in which
 * write: requests pipelined in one write, a body in pieces, a connection cut in the middle of a body.
 */
import type { Duplex } from 'node:stream';

export interface RawResponse {
  readonly status: number;
  readonly body: string;
}

/** A request's head, with a Content-Length; the caller writes the body, whole, in pieces or not at all. */
export function requestHead(
  method: string,
  path: string,
  bodyLength: number,
  contentType = 'application/json',
): string {
  return (
    `${method} ${path} HTTP/1.1\r\nHost: test\r\nContent-Type: ${contentType}\r\n` +
    `Content-Length: ${bodyLength}\r\n\r\n`
  );
}

/** A whole request, its body after its head. */
export function rawRequest(method: string, path: string, body: string | Buffer = ''): Buffer {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  return Buffer.concat([Buffer.from(requestHead(method, path, bytes.length)), bytes]);
}

class ResponseReader {
  private buffered = Buffer.alloc(0);
  private closed = false;
  private wake: (() => void) | undefined;

  constructor(socket: Duplex) {
    this.closed = socket.closed;
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      this.wake?.();
    });
    socket.once('close', () => {
      this.closed = true;
      this.wake?.();
    });
  }

  async next(): Promise<RawResponse> {
    for (;;) {
      const end = this.buffered.indexOf('\r\n\r\n');
      if (end >= 0) {
        const head = this.buffered.subarray(0, end).toString();
        const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (this.buffered.length >= end + 4 + length) {
          const body = this.buffered.subarray(end + 4, end + 4 + length).toString();
          this.buffered = this.buffered.subarray(end + 4 + length);
          return { status: Number(head.split(' ')[1]), body };
        }
      }
      if (this.closed)
        throw new Error(`connection closed; received ${JSON.stringify(this.buffered.toString())}`);
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}

const readers = new WeakMap<Duplex, ResponseReader>();

/**
 * The next response on `socket`, in the order they come (those to pipelined requests included); only
 * bodies with a Content-Length are understood. Rejects if the connection closes first.
 */
export function readResponse(socket: Duplex): Promise<RawResponse> {
  let reader = readers.get(socket);
  if (reader === undefined) {
    reader = new ResponseReader(socket);
    readers.set(socket, reader);
  }
  return reader.next();
}
