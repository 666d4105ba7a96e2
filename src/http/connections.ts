import type { IncomingMessage, ServerResponse } from 'node:http';
import type https from 'node:https';
import type { Socket } from 'node:net';
import type tls from 'node:tls';

/** A request and its response, from the request's headers until the response is written or dropped. */
interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
}

/**
 * One accepted TCP connection. `raw` is known from the first moment; `secure` once the TLS handshake
 * completed. Node's closeIdleConnections() cannot drain these: it never sees a connection still in the
 * handshake, and it counts as busy one whose headers are still arriving and one that has sent nothing
 * yet since its handshake (the headers timeout runs from there), so it leaves both open.
 */
interface Connection {
  readonly raw: Socket;
  secure?: tls.TLSSocket;
  readonly exchanges: Set<Exchange>;
}

/**
 * Only a request that arrived whole and is still being answered keeps its connection open during a
 * drain. Anything else (no handshake yet, silence, headers or a body still trickling in, an idle
 * keep-alive connection) carries nothing the API server is still waiting for from this replica.
 */
function isAnswering(connection: Connection): boolean {
  for (const { req, res } of connection.exchanges) {
    if (req.complete && !res.writableFinished) return true;
  }
  return false;
}

/** Both sockets of one connection report the same addresses; this pairs the TLS socket with its TCP one. */
function addressKey(socket: Socket): string {
  return `${socket.remoteAddress}|${socket.remotePort}|${socket.localAddress}|${socket.localPort}`;
}

export interface ConnectionTracker {
  /** Ties a request to its connection until its response is written or dropped. */
  track(req: IncomingMessage, res: ServerResponse): void;
  /** Closes every connection that is not answering a fully received request, or with `all` every one. */
  drop(all: boolean): void;
  /** From now on a new connection is closed as soon as it is accepted. */
  refuseNew(): void;
}

/** Follows every connection of `server` from its first byte; call right after creating the server. */
export function trackConnections(server: https.Server): ConnectionTracker {
  const connections = new Set<Connection>();
  const handshaking = new Map<string, Connection>();
  const bySecureSocket = new WeakMap<tls.TLSSocket, Connection>();
  let draining = false;

  server.on('connection', (raw: Socket) => {
    const connection: Connection = { raw, exchanges: new Set() };
    const key = addressKey(raw);
    connections.add(connection);
    handshaking.set(key, connection);
    raw.once('close', () => {
      connections.delete(connection);
      if (handshaking.get(key) === connection) handshaking.delete(key);
    });
    if (draining) raw.destroy();
  });
  server.on('secureConnection', (secure: tls.TLSSocket) => {
    const key = addressKey(secure);
    let connection = handshaking.get(key);
    if (connection === undefined) {
      // Not expected (both sockets share one handle); track the TLS socket on its own rather than lose it.
      connection = { raw: secure, exchanges: new Set() };
      const own = connection;
      connections.add(own);
      secure.once('close', () => connections.delete(own));
    } else {
      handshaking.delete(key);
    }
    connection.secure = secure;
    bySecureSocket.set(secure, connection);
  });

  return {
    track(req, res) {
      const connection = bySecureSocket.get(req.socket as tls.TLSSocket);
      if (connection !== undefined) {
        const exchange: Exchange = { req, res };
        connection.exchanges.add(exchange);
        const done = (): void => {
          connection.exchanges.delete(exchange);
        };
        res.once('finish', done);
        res.once('close', done);
      }
    },
    drop(all) {
      for (const connection of connections) {
        if (all || !isAnswering(connection)) (connection.secure ?? connection.raw).destroy();
      }
    },
    refuseNew() {
      draining = true;
    },
  };
}
