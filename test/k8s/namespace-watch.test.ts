/**
 * The namespace source's list and watch against a real HTTPS server speaking the API server's protocol:
 * paged list, watch from the list's resourceVersion, bookmarks, resuming after the server ends a watch,
 * and relisting after 410 Gone.
 */
import { expect } from 'chai';
import type { ServerResponse } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createNamespaceSource, type StoppableNamespaceSource } from '../../src/k8s/namespace-source.js';
import {
  sendJson,
  sendStatus,
  startTestApiServer,
  type SeenRequest,
  type TestApiServer,
} from '../support/kube-api.js';
import { waitFor } from '../support/wait.js';

function ns(name: string, resourceVersion: string, labels: Record<string, string> = {}): object {
  return { kind: 'Namespace', metadata: { name, resourceVersion, labels } };
}

function query(req: SeenRequest): URLSearchParams {
  return new URL(req.url, 'https://x').searchParams;
}

describe('k8s/namespace-source list and watch (against a real HTTPS server)', function () {
  this.timeout(20_000);
  let server: TestApiServer;
  let dir: string;
  let source: StoppableNamespaceSource | undefined;
  const lines: { level: string; msg: string; meta?: object }[] = [];
  let restarts = 0;
  /** Watches held open until the test ends. */
  const open: ServerResponse[] = [];

  beforeEach(async () => {
    server = await startTestApiServer();
    dir = mkdtempSync(join(tmpdir(), 'pod-hardener-nswatch-'));
    lines.length = 0;
    restarts = 0;
  });
  afterEach(async () => {
    source?.stop();
    source = undefined;
    for (const res of open.splice(0)) res.destroy();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(): Promise<StoppableNamespaceSource> {
    const path = join(dir, 'kubeconfig');
    writeFileSync(
      path,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          {
            name: 'c',
            cluster: {
              server: server.url,
              'certificate-authority-data': Buffer.from(server.pki.ca.certPem).toString('base64'),
            },
          },
        ],
        users: [{ name: 'u', user: { token: 'ns-reader' } }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'x',
      }),
    );
    const record = (level: string) => (msg: string, meta?: object) => lines.push({ level, msg, meta });
    source = await createNamespaceSource({
      cluster: { kind: 'kubeconfig', path },
      lookupTimeoutMs: 2000,
      logger: { info: record('info'), warn: record('warn'), error: record('error') },
      onLookupFailure: () => undefined,
      onWatchRestart: () => {
        restarts += 1;
      },
    });
    return source;
  }

  function watches(): SeenRequest[] {
    return server.requests.filter((r) => query(r).get('watch') === '1');
  }
  function lists(): SeenRequest[] {
    return server.requests.filter(
      (r) => r.url.startsWith('/api/v1/namespaces?') && query(r).get('watch') === null,
    );
  }

  it('pages the list, follows the watch and its bookmarks, resumes, and relists after 410 Gone', async () => {
    let listed = 0;
    server.handle((req, res) => {
      const q = query(req);
      if (req.url.startsWith('/api/v1/namespaces/')) {
        sendStatus(res, 404, 'NotFound', `namespaces "${req.url.split('/').pop() ?? ''}" not found`);
      } else if (q.get('watch') === '1') {
        const n = watches().length;
        res.writeHead(200, { 'Content-Type': 'application/json' });
        if (n === 1) {
          res.write(`${JSON.stringify({ type: 'ADDED', object: ns('c', '11', { team: 'c' }) })}\n`);
          res.write(`${JSON.stringify({ type: 'DELETED', object: ns('a', '12') })}\n`);
          res.end(
            `${JSON.stringify({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '15' } } })}\n`,
          );
        } else if (n === 2) {
          res.end(
            `${JSON.stringify({
              type: 'ERROR',
              object: {
                kind: 'Status',
                code: 410,
                reason: 'Expired',
                message: 'too old resource version: 15 (30)',
              },
            })}\n`,
          );
        } else {
          open.push(res);
        }
      } else if (q.get('continue') === null) {
        listed += 1;
        if (listed === 1) {
          sendJson(res, 200, {
            items: [ns('a', '5')],
            metadata: { resourceVersion: '10', continue: 'page2' },
          });
        } else {
          sendJson(res, 200, {
            items: [ns('b', '6'), ns('d', '25', { team: 'd' })],
            metadata: { resourceVersion: '30' },
          });
        }
      } else {
        sendJson(res, 200, { items: [ns('b', '6', { team: 'b' })], metadata: { resourceVersion: '10' } });
      }
    });

    const namespaces = await start();
    await waitFor(() => watches().length === 3, 'the third watch');
    expect(namespaces.synced()).to.equal(true);

    expect(lists().map((r) => query(r).get('continue'))).to.deep.equal([null, 'page2', null]);
    expect(lists().map((r) => query(r).get('limit'))).to.deep.equal(['500', '500', '500']);
    expect(watches().map((r) => query(r).get('resourceVersion'))).to.deep.equal(['10', '15', '30']);
    for (const w of watches()) {
      expect(query(w).get('allowWatchBookmarks')).to.equal('true');
      expect(Number(query(w).get('timeoutSeconds'))).to.be.within(300, 600);
    }
    expect(server.requests.every((r) => r.headers.authorization === 'Bearer ns-reader')).to.equal(true);

    // The relist replaced the cache: c (added by the watch) is gone, d is new, b kept.
    expect(await namespaces.lookup('d')).to.deep.equal({
      kind: 'found',
      namespace: { labels: { team: 'd' }, annotations: {} },
    });
    expect(await namespaces.lookup('b')).to.deep.equal({
      kind: 'found',
      namespace: { labels: {}, annotations: {} },
    });
    expect(await namespaces.lookup('c')).to.deep.equal({ kind: 'not-found' });
    expect(await namespaces.lookup('a')).to.deep.equal({ kind: 'not-found' });

    expect(lines.map((l) => l.msg)).to.include('namespace watch expired, relisting');
    expect(lines.filter((l) => l.level !== 'info')).to.deep.equal([]);
    expect(restarts).to.equal(0);
  });

  it('relists when the watch request itself is answered 410 Gone', async () => {
    server.handle((req, res) => {
      if (query(req).get('watch') === '1') {
        if (watches().length === 1) {
          sendStatus(res, 410, 'Expired', 'too old resource version: 3 (40)');
        } else {
          res.writeHead(200);
          open.push(res);
        }
      } else {
        sendJson(res, 200, { items: [], metadata: { resourceVersion: lists().length === 1 ? '3' : '40' } });
      }
    });
    await start();
    await waitFor(() => watches().length === 2, 'the second watch');
    expect(watches().map((r) => query(r).get('resourceVersion'))).to.deep.equal(['3', '40']);
    expect(lists()).to.have.length(2);
    expect(restarts).to.equal(0);
    expect(lines.filter((l) => l.level !== 'info')).to.deep.equal([]);
  });

  it('sees watch events as they arrive, before the watch ends', async () => {
    let watch: ServerResponse | undefined;
    server.handle((req, res) => {
      if (query(req).get('watch') === '1') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        watch = res;
        open.push(res);
      } else if (req.url.startsWith('/api/v1/namespaces/')) {
        // Only the watch can make the namespace known.
        sendStatus(res, 503, 'ServiceUnavailable', 'not from here');
      } else {
        sendJson(res, 200, { items: [], metadata: { resourceVersion: '1' } });
      }
    });
    const namespaces = await start();
    await waitFor(() => watch !== undefined, 'the watch');
    watch?.write(`${JSON.stringify({ type: 'ADDED', object: ns('late', '2', { x: 'y' }) })}\n`);
    let found = false;
    for (let i = 0; i < 500 && !found; i++) {
      found = (await namespaces.lookup('late')).kind === 'found';
      if (!found) await new Promise((r) => setTimeout(r, 10));
    }
    expect(found).to.equal(true);
    expect(watch?.writableEnded).to.equal(false);
  });

  it('restarts with backoff after a watch ERROR other than 410, naming the Status', async () => {
    server.handle((req, res) => {
      if (query(req).get('watch') === '1') {
        if (watches().length === 1) {
          res.writeHead(200);
          res.end(
            `${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: 500, reason: 'InternalError', message: 'etcd is sad' } })}\n`,
          );
        } else {
          res.writeHead(200);
          open.push(res);
        }
      } else {
        sendJson(res, 200, { items: [], metadata: { resourceVersion: '1' } });
      }
    });
    await start();
    await waitFor(() => watches().length === 2, 'the restarted watch');
    const failed = lines.filter((l) => l.msg === 'namespace informer failed, restarting');
    expect(failed).to.have.length(1);
    expect(failed[0]?.meta).to.include({ reason: 'HTTP 500 InternalError: etcd is sad', retryInMs: 1000 });
    expect(restarts).to.equal(1);
    // A restart lists again: the watch's resourceVersion cannot be trusted after a failure.
    expect(lists()).to.have.length(2);
  });
});
