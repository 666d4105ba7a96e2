import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IdleTimeoutError, KubeApiError, RequestAbortedError } from '../../src/k8s/errors.js';
import { createKubeClient, type KubeClient, type WatchEvent } from '../../src/k8s/http.js';
import type { KubeAccess } from '../../src/k8s/kubeconfig.js';
import { describeError, httpStatusOf } from '../../src/k8s/requests.js';
import { fileToken, staticToken } from '../../src/k8s/token.js';
import { createCertificateAuthority } from '../../src/tls/self-signed.js';
import { sendJson, sendStatus, startTestApiServer, type TestApiServer } from '../support/kube-api.js';
import { waitFor } from '../support/wait.js';

describe('k8s/http (against a real HTTPS server)', function () {
  this.timeout(20_000);
  let server: TestApiServer;
  let client: KubeClient | undefined;
  let dir: string;

  beforeEach(async () => {
    server = await startTestApiServer();
    dir = mkdtempSync(join(tmpdir(), 'pod-hardener-http-'));
  });
  afterEach(async () => {
    client?.close();
    client = undefined;
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function connect(extra: Partial<KubeAccess> = {}): KubeClient {
    client = createKubeClient({
      server: server.url,
      ca: Buffer.from(server.pki.ca.certPem),
      insecureSkipTlsVerify: false,
      token: staticToken('t0ken'),
      ...extra,
    });
    return client;
  }

  it('sends the bearer token, parses JSON, and keeps the connection alive', async () => {
    server.handle((req, res) => {
      sendJson(res, 200, { kind: 'Namespace', metadata: { name: req.url.split('/').pop() } });
    });
    const kube = connect();
    const a = await kube.request<{ metadata: { name: string } }>({ path: '/api/v1/namespaces/a' });
    const b = await kube.request<{ metadata: { name: string } }>({ path: '/api/v1/namespaces/b' });
    expect([a.metadata.name, b.metadata.name]).to.deep.equal(['a', 'b']);
    expect(server.requests.map((r) => r.headers.authorization)).to.deep.equal([
      'Bearer t0ken',
      'Bearer t0ken',
    ]);
    expect(server.requests[0]?.headers.accept).to.equal('application/json');
    expect(server.requests[1]?.remotePort).to.equal(server.requests[0]?.remotePort);
  });

  it('sends a body with its content type, and the query', async () => {
    server.handle((_req, res) => {
      sendJson(res, 200, {});
    });
    await connect().request({
      method: 'PATCH',
      path: '/apis/x/v1/things/a',
      query: { dryRun: 'All', skip: undefined },
      body: [{ op: 'add', path: '/a', value: 'é' }],
      contentType: 'application/json-patch+json',
    });
    const seen = server.requests[0];
    expect(seen?.method).to.equal('PATCH');
    expect(seen?.url).to.equal('/apis/x/v1/things/a?dryRun=All');
    expect(seen?.headers['content-type']).to.equal('application/json-patch+json');
    expect(JSON.parse(seen?.body ?? '')).to.deep.equal([{ op: 'add', path: '/a', value: 'é' }]);
  });

  it('authenticates with a client certificate', async () => {
    await server.close();
    server = await startTestApiServer({ requireClientCert: true });
    server.handle((_req, res) => {
      sendJson(res, 200, {});
    });
    const { admin } = server.pki;
    await connect({
      token: undefined,
      cert: Buffer.from(admin.certPem),
      key: Buffer.from(admin.keyPem),
    }).request({
      path: '/api',
    });
    expect(server.requests[0]?.clientCn).to.equal('e2e-admin');
    expect(server.requests[0]?.headers.authorization).to.equal(undefined);

    // Without it the handshake fails and no request reaches the server.
    client?.close();
    const err = await connect({ token: undefined })
      .request({ path: '/api' })
      .catch((e: unknown) => e);
    expect(err).to.be.instanceOf(Error);
    expect(server.requests).to.have.length(1);
  });

  it('refuses a server whose certificate the CA did not sign, unless told to skip verification', async () => {
    server.handle((_req, res) => {
      sendJson(res, 200, { ok: true });
    });
    const foreign = await createCertificateAuthority({ commonName: 'someone else' });
    const err = await connect({ ca: Buffer.from(foreign.certPem) })
      .request({ path: '/api' })
      .catch((e: unknown) => e);
    // The test server sends its CA in the chain, so OpenSSL reports it as a self-signed CA it does not trust.
    expect(describeError(err)).to.equal('SELF_SIGNED_CERT_IN_CHAIN');
    expect(server.requests).to.deep.equal([]);
    client?.close();

    const ok = await connect({ ca: undefined, insecureSkipTlsVerify: true }).request({ path: '/api' });
    expect(ok).to.deep.equal({ ok: true });
  });

  it('turns an error status into a KubeApiError with the Status reason and message, not the body', async () => {
    server.handle((req, res) => {
      if (req.url.endsWith('/forbidden')) {
        sendStatus(
          res,
          403,
          'Forbidden',
          'namespaces "x" is forbidden: User "u" cannot get resource "namespaces"',
        );
      } else if (req.url.endsWith('/missing')) {
        sendStatus(res, 404, 'NotFound', 'namespaces "missing" not found');
      } else {
        res.writeHead(502, { 'Content-Type': 'text/html' });
        res.end('Bad gateway from a proxy\n<html>secret-ish page</html>');
      }
    });
    const kube = connect();
    const forbidden = await kube.request({ path: '/api/v1/namespaces/forbidden' }).catch((e: unknown) => e);
    expect(forbidden).to.be.instanceOf(KubeApiError);
    expect(forbidden).to.include({ status: 403, reason: 'Forbidden' });
    expect(httpStatusOf(forbidden)).to.equal(403);
    expect(describeError(forbidden)).to.equal(
      'HTTP 403 Forbidden: namespaces "x" is forbidden: User "u" cannot get resource "namespaces"',
    );
    expect((forbidden as Error).message).to.match(
      /^GET \/api\/v1\/namespaces\/forbidden: HTTP 403 Forbidden: /,
    );

    const missing = await kube.request({ path: '/api/v1/namespaces/missing' }).catch((e: unknown) => e);
    expect(httpStatusOf(missing)).to.equal(404);

    const proxy = await kube.request({ path: '/api/v1/namespaces/proxy' }).catch((e: unknown) => e);
    expect(describeError(proxy)).to.equal('HTTP 502: Bad gateway from a proxy');
  });

  it('re-reads a token file once its refresh period has passed, and at once after a 401', async () => {
    const tokenPath = join(dir, 'token');
    writeFileSync(tokenPath, 'first\n');
    let now = 0;
    server.handle((req, res) => {
      if (req.headers.authorization === 'Bearer expired')
        sendStatus(res, 401, 'Unauthorized', 'Unauthorized');
      else sendJson(res, 200, {});
    });
    const kube = connect({ token: fileToken(tokenPath, 60_000, () => now) });
    await kube.request({ path: '/api' });
    writeFileSync(tokenPath, 'second\n');
    now = 59_999;
    await kube.request({ path: '/api' });
    now = 60_000;
    await kube.request({ path: '/api' });
    writeFileSync(tokenPath, 'expired');
    now = 120_000;
    const err = await kube.request({ path: '/api' }).catch((e: unknown) => e);
    expect(httpStatusOf(err)).to.equal(401);
    writeFileSync(tokenPath, 'rotated');
    await kube.request({ path: '/api' });
    expect(server.requests.map((r) => r.headers.authorization)).to.deep.equal([
      'Bearer first',
      'Bearer first',
      'Bearer second',
      'Bearer expired',
      'Bearer rotated',
    ]);
  });

  it('streams watch events split anywhere across chunks, delivering each before the stream ends', async () => {
    const events = [
      { type: 'ADDED', object: { metadata: { name: 'a', labels: { team: 'équipe-🚀' } } } },
      { type: 'MODIFIED', object: { metadata: { name: 'a', resourceVersion: '7' } } },
      { type: 'BOOKMARK', object: { metadata: { resourceVersion: '9' } } },
    ];
    const bytes = Buffer.from(events.map((e) => JSON.stringify(e)).join('\n') + '\n', 'utf8');
    const received: WatchEvent[] = [];
    let releaseLast: () => void = () => undefined;
    const lastMayGo = new Promise<void>((r) => {
      releaseLast = r;
    });
    server.handle((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      void (async () => {
        // Three bytes at a time: splits JSON tokens, lines and the multi-byte characters.
        const cut = bytes.length - 20;
        for (let i = 0; i < cut; i += 3) {
          res.write(bytes.subarray(i, Math.min(i + 3, cut)));
          await new Promise((r) => setImmediate(r));
        }
        await lastMayGo;
        res.end(bytes.subarray(cut));
      })();
    });
    const done = connect().watch({
      path: '/api/v1/namespaces',
      query: { watch: 1 },
      onEvent: (event) => {
        received.push(event);
        if (received.length === 2) releaseLast();
      },
    });
    await done;
    expect(received).to.deep.equal(events);
    expect(server.requests[0]?.url).to.equal('/api/v1/namespaces?watch=1');
  });

  it('rejects a watch whose response is an error status, and one with a broken event', async () => {
    server.handle((req, res) => {
      if (req.url.includes('resourceVersion=1')) {
        sendStatus(res, 410, 'Expired', 'too old resource version: 1 (50)');
        return;
      }
      res.writeHead(200);
      res.end('{"type":"ADDED","object":{}}\n{not json\n');
    });
    const kube = connect();
    const gone = await kube
      .watch({ path: '/api/v1/namespaces', query: { resourceVersion: 1 }, onEvent: () => undefined })
      .catch((e: unknown) => e);
    expect(httpStatusOf(gone)).to.equal(410);
    const seen: WatchEvent[] = [];
    const broken = await kube
      .watch({ path: '/api/v1/namespaces', onEvent: (e) => seen.push(e) })
      .catch((e: unknown) => e);
    expect(broken).to.be.instanceOf(Error);
    expect(seen).to.have.length(1);
  });

  it('aborts a request in flight through its signal and closes the connection', async () => {
    server.handle(() => undefined);
    const controller = new AbortController();
    const pending = connect().request({ path: '/api', signal: controller.signal });
    await waitFor(() => server.requests.length === 1, 'the request to arrive');
    expect(server.sockets.size).to.equal(1);
    controller.abort(new Error('enough'));
    const err = await pending.catch((e: unknown) => e);
    expect(err).to.be.instanceOf(RequestAbortedError);
    expect((err as Error).cause).to.deep.equal(new Error('enough'));
    expect(describeError(err)).to.equal('aborted');
    await waitFor(() => server.sockets.size === 0, 'the connection to close');

    const already = await connect()
      .request({ path: '/api', signal: AbortSignal.abort() })
      .catch((e: unknown) => e);
    expect(already).to.be.instanceOf(RequestAbortedError);
    expect(server.requests).to.have.length(1);
  });

  it('gives up on a connection that stays silent', async () => {
    server.handle(() => undefined);
    const err = await connect()
      .request({ path: '/api', idleTimeoutMs: 100 })
      .catch((e: unknown) => e);
    expect(err).to.be.instanceOf(IdleTimeoutError);
    await waitFor(() => server.sockets.size === 0, 'the connection to close');
  });

  it('retries a GET once when a kept-alive connection turns out to be closed, but not a write', async () => {
    const seenOn = new Map<number | undefined, number>();
    server.handle((req, res) => {
      const count = (seenOn.get(req.remotePort) ?? 0) + 1;
      seenOn.set(req.remotePort, count);
      // The second request on a connection meets a server that has just closed it.
      if (count === 2) res.socket?.destroy();
      else sendJson(res, 200, { n: server.requests.length });
    });
    const kube = connect();
    await kube.request({ path: '/api' });
    expect(await kube.request({ path: '/api' })).to.deep.equal({ n: 3 });
    expect(server.requests).to.have.length(3);
    expect(server.requests[1]?.remotePort).to.equal(server.requests[0]?.remotePort);
    expect(server.requests[2]?.remotePort).not.to.equal(server.requests[0]?.remotePort);

    // The next request is the second on the new connection, and a PUT is not sent twice.
    const put = await kube.request({ method: 'PUT', path: '/api', body: {} }).catch((e: unknown) => e);
    expect(describeError(put)).to.equal('ECONNRESET');
    expect(server.requests).to.have.length(4);
  });

  it('reports a refused connection by its code', async () => {
    const url = server.url;
    await server.close();
    const err = await createKubeClient({ server: url, insecureSkipTlsVerify: true })
      .request({ path: '/api' })
      .catch((e: unknown) => e);
    expect(describeError(err)).to.equal('ECONNREFUSED');
    server = await startTestApiServer();
  });
});
