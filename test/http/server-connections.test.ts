import { mkdtemp, rm } from 'node:fs/promises';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { expect } from 'chai';
import { createMetrics } from '../../src/metrics/index.js';
import { rawRequest, readResponse } from '../support/raw-http.js';
import { startServer, type RunningServer, type StartServerOptions } from '../../src/http/server.js';
import { createSilentLogger } from '../../src/logger.js';
import {
  createSelfSignedCertificate,
  writeCertificateFiles,
  type CertificateFiles,
  type PemKeyPair,
} from '../../src/tls/self-signed.js';

// Slow clients against the listener, the TLS suites it offers, and the pair-loaded hook. Every
// connection is real TLS over 127.0.0.1. Timing bounds are generous on purpose (shared, noisy CI): what
// they tell apart is "about the shutdown delay" from "the 25 s hard timeout, or never".

const HOST = '127.0.0.1';
const SHUTDOWN_DELAY_SECONDS = 0.3;
// The CLI's default hard timeout is 25 s; a drain that any of these clients can hold takes at least 15 s.
const SHUTDOWN_BOUND_MS = 3_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves with the elapsed milliseconds, or 'timeout' when the promise has not settled within ms. */
async function within(ms: number, promise: Promise<unknown>): Promise<number | 'timeout'> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const result = await Promise.race([
    promise.then(() => Date.now() - started),
    new Promise<'timeout'>(
      (resolve) =>
        (timer = setTimeout(() => {
          resolve('timeout');
        }, ms)),
    ),
  ]);
  clearTimeout(timer);
  return result;
}

/**
 * Resolves once the socket is closed, however that happened. Reads (and discards) what arrives: a paused
 * socket never sees the end of a stream behind unread data, such as a 408 the server sent before closing.
 */
function closedOf(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) resolve();
    socket.once('close', () => {
      resolve();
    });
    socket.on('error', () => undefined);
    socket.resume();
  });
}

describe('http/server connections and TLS suites', function () {
  this.timeout(20_000);

  let tmp: string;
  let pairA: PemKeyPair;
  let pairB: PemKeyPair;
  let files: CertificateFiles;
  const servers: RunningServer[] = [];
  const sockets: net.Socket[] = [];

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'pod-hardener-connections-test-'));
    [pairA, pairB] = await Promise.all([createSelfSignedCertificate(), createSelfSignedCertificate()]);
  });

  let dirCount = 0;
  beforeEach(async () => {
    dirCount += 1;
    files = await writeCertificateFiles(path.join(tmp, `certs-${dirCount}`), pairA);
  });

  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  /** Answers 'ok', except /slow, which waits for release() after the whole body has arrived. */
  function slowApp(): { app: RequestListener; arrived: Promise<void>; release: () => void } {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let arrived!: () => void;
    const arrivedP = new Promise<void>((resolve) => (arrived = resolve));
    const app = (req: IncomingMessage, res: ServerResponse): void => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        if (req.url === '/slow') {
          arrived();
          void released.then(() => res.end(`answered ${body}`));
        } else {
          res.end('ok');
        }
      });
    };
    return { app, arrived: arrivedP, release };
  }

  async function start(overrides: Partial<StartServerOptions> = {}): Promise<RunningServer> {
    const server = await startServer({
      app: slowApp().app,
      port: 0,
      host: HOST,
      ...files,
      reloadIntervalSeconds: 3600,
      watchDirectories: false,
      shutdownDelaySeconds: SHUTDOWN_DELAY_SECONDS,
      logger: createSilentLogger(),
      metrics: createMetrics({ defaultMetrics: false }),
      ...overrides,
    });
    servers.push(server);
    return server;
  }

  function track<T extends net.Socket>(socket: T): T {
    sockets.push(socket);
    socket.on('error', () => undefined);
    return socket;
  }

  /** A TCP connection that never starts the TLS handshake. */
  async function rawConnection(port: number): Promise<net.Socket> {
    const socket = track(net.connect({ host: HOST, port }));
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return socket;
  }

  /** A TLS connection that completed the handshake and has sent nothing. */
  async function tlsConnection(port: number, options: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
    const socket = track(tls.connect({ host: HOST, port, ca: pairA.certPem, ...options }));
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', resolve);
      socket.once('error', reject);
    });
    return socket;
  }

  /** Sends the first bytes of a request's headers now and one more byte every 100 ms. */
  function slowloris(socket: net.Socket): void {
    socket.write('POST /mutate HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
    const drip = setInterval(() => {
      if (socket.destroyed) clearInterval(drip);
      else socket.write('a');
    }, 100);
    socket.once('close', () => {
      clearInterval(drip);
    });
  }

  describe('graceful shutdown closes what is not being answered, right after the delay', () => {
    async function expectPromptShutdown(server: RunningServer, holders: net.Socket[]): Promise<void> {
      const elapsed = await within(SHUTDOWN_BOUND_MS, server.shutdown());
      expect(elapsed, 'shutdown must not wait for a client that is not owed an answer').to.not.equal(
        'timeout',
      );
      expect(elapsed).to.be.at.least(SHUTDOWN_DELAY_SECONDS * 1000 - 50);
      for (const socket of holders) {
        expect(await within(1_000, closedOf(socket))).to.not.equal('timeout');
      }
    }

    it('a connection that never starts the TLS handshake', async () => {
      const server = await start();
      const socket = await rawConnection(server.port);
      await expectPromptShutdown(server, [socket]);
    });

    it('a connection that completed the handshake and never sends a request', async () => {
      const server = await start();
      const socket = await tlsConnection(server.port);
      await expectPromptShutdown(server, [socket]);
    });

    it('a connection sending its request headers a byte at a time (slowloris)', async () => {
      const server = await start();
      const socket = await tlsConnection(server.port);
      slowloris(socket);
      await sleep(150);
      await expectPromptShutdown(server, [socket]);
    });

    it('a request whose body is still arriving', async () => {
      const server = await start();
      const socket = await tlsConnection(server.port);
      socket.write('POST /slow HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{"partial":');
      await sleep(150);
      await expectPromptShutdown(server, [socket]);
    });

    it('an idle keep-alive connection after a response', async () => {
      const server = await start();
      const socket = await tlsConnection(server.port);
      socket.write(rawRequest('GET', '/healthz'));
      expect(await readResponse(socket)).to.deep.equal({ status: 200, body: 'ok' });
      await expectPromptShutdown(server, [socket]);
    });

    it('all of them at once, while a fully received request in flight is still answered', async () => {
      const { app, arrived, release } = slowApp();
      const server = await start({ app });
      const inFlight = await tlsConnection(server.port);
      const answer = readResponse(inFlight);
      inFlight.write(rawRequest('POST', '/slow', '{"review":1}'));
      await arrived;

      const holders = [
        await rawConnection(server.port),
        await tlsConnection(server.port),
        await tlsConnection(server.port),
        await tlsConnection(server.port),
      ];
      slowloris(holders[2]!);
      holders[3]!.write(rawRequest('GET', '/healthz'));
      expect(await readResponse(holders[3]!)).to.deep.equal({ status: 200, body: 'ok' });

      let shutdownDone = false;
      const shutdown = server.shutdown().then(() => (shutdownDone = true));
      for (const socket of holders) {
        expect(await within(SHUTDOWN_BOUND_MS, closedOf(socket))).to.not.equal('timeout');
      }
      expect(inFlight.destroyed, 'the in-flight request keeps its connection').to.equal(false);
      expect(shutdownDone, 'shutdown waits for the in-flight request').to.equal(false);

      release();
      expect(await answer).to.deep.equal({ status: 200, body: 'answered {"review":1}' });
      expect(await within(SHUTDOWN_BOUND_MS, shutdown)).to.not.equal('timeout');
      // Answered during the drain, so the connection is not kept for reuse.
      expect(await within(1_000, closedOf(inFlight))).to.not.equal('timeout');
    });
  });

  describe('time limits in normal operation', () => {
    // Short enough to wait out, long enough for a healthy client to handshake and send on a busy machine.
    const short = { handshakeTimeoutMs: 1_000, headersTimeoutMs: 1_000, checkIntervalMs: 100 };
    const LIMIT_BOUND_MS = 5_000;

    it('drops a client that does not complete the TLS handshake in time', async () => {
      const server = await start({ connectionLimits: short });
      const socket = await rawConnection(server.port);
      expect(await within(LIMIT_BOUND_MS, closedOf(socket))).to.not.equal('timeout');
    });

    it('drops a client that sends its headers too slowly', async () => {
      const server = await start({ connectionLimits: short });
      const socket = await tlsConnection(server.port);
      slowloris(socket);
      expect(await within(LIMIT_BOUND_MS, closedOf(socket))).to.not.equal('timeout');
    });

    it('closes a connection that never sends a request after the headers timeout', async () => {
      const server = await start({ connectionLimits: short });
      const socket = await tlsConnection(server.port);
      expect(await within(LIMIT_BOUND_MS, closedOf(socket))).to.not.equal('timeout');
    });

    it('keeps a keep-alive connection between requests beyond those limits (the API server reuses it)', async () => {
      const server = await start({ connectionLimits: short });
      const socket = await tlsConnection(server.port);
      socket.write(rawRequest('GET', '/healthz'));
      expect(await readResponse(socket)).to.deep.equal({ status: 200, body: 'ok' });
      await sleep(2_500);
      expect(socket.destroyed).to.equal(false);
      socket.write(rawRequest('GET', '/healthz'));
      expect(await readResponse(socket)).to.deep.equal({ status: 200, body: 'ok' });
    });
  });

  describe('TLS suites', () => {
    /** The negotiated protocol and suite, or the client's error code. */
    async function handshake(port: number, options: tls.ConnectionOptions): Promise<string> {
      try {
        const socket = await tlsConnection(port, options);
        const result = `${socket.getProtocol() ?? '?'} ${socket.getCipher().name}`;
        socket.destroy();
        return result;
      } catch (err) {
        return `error:${(err as NodeJS.ErrnoException).code ?? String(err)}`;
      }
    }
    const tls12 = (ciphers: string): tls.ConnectionOptions => ({ maxVersion: 'TLSv1.2', ciphers });
    const REFUSED = /^error:.*(HANDSHAKE_FAILURE|NO_SHARED_CIPHER|NO_CIPHERS)/;

    it('refuses TLS 1.2 CBC, SHA-1 and CCM8 suites (the test certificate is ECDSA)', async () => {
      const server = await start();
      for (const suite of [
        'ECDHE-ECDSA-AES128-SHA',
        'ECDHE-ECDSA-AES256-SHA',
        'ECDHE-ECDSA-AES128-SHA256',
        'ECDHE-ECDSA-AES128-CCM8',
      ]) {
        expect(await handshake(server.port, tls12(suite)), suite).to.match(REFUSED);
      }
    });

    it('accepts the TLS 1.2 AEAD suites and TLS 1.3', async () => {
      const server = await start();
      for (const suite of [
        'ECDHE-ECDSA-AES128-GCM-SHA256',
        'ECDHE-ECDSA-AES256-GCM-SHA384',
        'ECDHE-ECDSA-CHACHA20-POLY1305',
      ]) {
        expect(await handshake(server.port, tls12(suite))).to.equal(`TLSv1.2 ${suite}`);
      }
      expect(await handshake(server.port, {})).to.match(/^TLSv1\.3 TLS_/);
      expect(await handshake(server.port, { ciphers: 'TLS_CHACHA20_POLY1305_SHA256' })).to.equal(
        'TLSv1.3 TLS_CHACHA20_POLY1305_SHA256',
      );
      // A client that prefers other suites we offer still gets our first choice.
      expect(
        await handshake(
          server.port,
          tls12('ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256'),
        ),
      ).to.equal('TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256');
    });

    it('serves the configured suites and minimum version, and keeps them after a reload', async () => {
      const server = await start({
        tlsCipherSuites: 'ECDHE-ECDSA-AES256-GCM-SHA384:TLS_AES_256_GCM_SHA384',
        tlsMinVersion: 'TLSv1.3',
      });
      const check = async (ca: string): Promise<void> => {
        expect(await handshake(server.port, { ...tls12('ECDHE-ECDSA-AES256-GCM-SHA384'), ca })).to.match(
          /^error:.*(PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL)/,
        );
        expect(await handshake(server.port, { ciphers: 'TLS_AES_128_GCM_SHA256', ca })).to.match(REFUSED);
        expect(await handshake(server.port, { ca })).to.equal('TLSv1.3 TLS_AES_256_GCM_SHA384');
      };
      await check(pairA.certPem);

      await writeCertificateFiles(path.dirname(files.certFile), pairB);
      expect(await server.reloadNow()).to.equal('reloaded');
      await check(pairB.certPem);
    });

    it('keeps the default suites after a reload', async () => {
      const server = await start();
      await writeCertificateFiles(path.dirname(files.certFile), pairB);
      expect(await server.reloadNow()).to.equal('reloaded');
      expect(
        await handshake(server.port, { ...tls12('ECDHE-ECDSA-AES128-SHA'), ca: pairB.certPem }),
      ).to.match(REFUSED);
      expect(
        await handshake(server.port, { ...tls12('ECDHE-ECDSA-AES128-GCM-SHA256'), ca: pairB.certPem }),
      ).to.equal('TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256');
    });
  });

  describe('onPairLoaded', () => {
    interface Seen {
      readonly cert: string;
      readonly key: string;
    }
    const textOf = (pair: { readonly cert: Buffer; readonly key: Buffer }): Seen => ({
      cert: pair.cert.toString('utf8'),
      key: pair.key.toString('utf8'),
    });

    it('gets the initial pair before startServer resolves, then each reloaded pair once', async () => {
      const seen: Seen[] = [];
      let resolved = false;
      const calledWhileStarting: boolean[] = [];
      const starting = start({
        onPairLoaded: (pair) => {
          seen.push(textOf(pair));
          calledWhileStarting.push(!resolved);
        },
      });
      const server = await starting;
      resolved = true;
      expect(calledWhileStarting).to.deep.equal([true]);
      expect(seen).to.deep.equal([{ cert: pairA.certPem, key: pairA.keyPem }]);

      await writeCertificateFiles(path.dirname(files.certFile), pairB);
      expect(await server.reloadNow()).to.equal('reloaded');
      expect(seen).to.deep.equal([
        { cert: pairA.certPem, key: pairA.keyPem },
        { cert: pairB.certPem, key: pairB.keyPem },
      ]);

      // Nothing new, or a broken pair: not called.
      expect(await server.reloadNow()).to.equal('unchanged');
      await writeCertificateFiles(path.dirname(files.certFile), {
        certPem: pairA.certPem,
        keyPem: pairB.keyPem,
      });
      expect(await server.reloadNow()).to.equal('failed');
      expect(seen).to.have.length(2);
    });

    it('is called after the new secure context is in place', async () => {
      const events: string[] = [];
      const server = await start({
        onPairLoaded: (pair) => events.push(`hook ${textOf(pair).cert === pairB.certPem ? 'B' : 'A'}`),
      });
      const setSecureContext = server.server.setSecureContext.bind(server.server);
      server.server.setSecureContext = (options) => {
        setSecureContext(options);
        events.push('setSecureContext');
      };
      await writeCertificateFiles(path.dirname(files.certFile), pairB);
      expect(await server.reloadNow()).to.equal('reloaded');
      expect(events).to.deep.equal(['hook A', 'setSecureContext', 'hook B']);
    });

    it('an exception at start fails the start; one after a reload is logged and the new pair stays', async () => {
      let error: unknown;
      try {
        await start({
          onPairLoaded: () => {
            throw new Error('cannot derive');
          },
        });
      } catch (err) {
        error = err;
      }
      expect(String(error)).to.include('cannot derive');

      let calls = 0;
      const server = await start({
        onPairLoaded: () => {
          calls += 1;
          if (calls > 1) throw new Error('cannot derive');
        },
      });
      await writeCertificateFiles(path.dirname(files.certFile), pairB);
      expect(await server.reloadNow()).to.equal('reloaded');
      expect(calls).to.equal(2);
      const socket = await tlsConnection(server.port, { ca: pairB.certPem });
      expect(socket.authorized).to.equal(true);
    });
  });
});
