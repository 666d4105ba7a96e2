/**
 * A real HTTPS server standing in for the API server in unit tests of src/k8s: TLS with certificates
 * from the e2e PKI (a CA, a serving pair for 127.0.0.1, a client certificate), and a handler per test.
 */
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { createControlPlanePki, type ControlPlanePki } from '../e2e/support/pki.js';

export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
  /** The client certificate's subject CN, when one was presented and verified. */
  readonly clientCn: string | undefined;
  /** The client's port: the same for two requests means one kept-alive connection. */
  readonly remotePort: number | undefined;
}

export type Handler = (req: SeenRequest, res: ServerResponse) => void;

export interface TestApiServer {
  readonly url: string;
  readonly pki: ControlPlanePki;
  readonly requests: SeenRequest[];
  /** Connections currently open. */
  readonly sockets: Set<Socket>;
  handle(handler: Handler): void;
  close(): Promise<void>;
}

let pki: Promise<ControlPlanePki> | undefined;

/** One PKI per test process: generating it costs an RSA key. */
export function testPki(): Promise<ControlPlanePki> {
  pki ??= createControlPlanePki();
  return pki;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendStatus(res: ServerResponse, code: number, reason: string, message: string): void {
  sendJson(res, code, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message });
}

export async function startTestApiServer(
  options: { requireClientCert?: boolean } = {},
): Promise<TestApiServer> {
  const keys = await testPki();
  const requests: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  let handler: Handler = (_req, res) => {
    sendStatus(res, 404, 'NotFound', 'no handler');
  };
  const server = https.createServer(
    {
      cert: keys.apiServer.certPem,
      key: keys.apiServer.keyPem,
      ca: keys.ca.certPem,
      requestCert: options.requireClientCert === true,
      rejectUnauthorized: options.requireClientCert === true,
    },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const tls = req.socket as TLSSocket;
        const cn: unknown = (tls.getPeerCertificate() as { subject?: { CN?: unknown } }).subject?.CN;
        const seen: SeenRequest = {
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          clientCn: typeof cn === 'string' ? cn : undefined,
          remotePort: req.socket.remotePort,
        };
        requests.push(seen);
        handler(seen, res);
      });
    },
  );
  server.on('secureConnection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  // A client that fails verification shows up here; the test looks at the client's error instead.
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    pki: keys,
    requests,
    sockets,
    handle(next) {
      handler = next;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
