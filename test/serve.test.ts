import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { expect } from 'chai';
import { loadConfig } from '../src/config/index.js';
import { createLogger } from '../src/logger.js';
import { startServe } from '../src/serve.js';
import { admissionReview } from './support/admission-review.js';
import type { AdmissionReview } from '../src/engine/index.js';

function podReview(uid: string): AdmissionReview {
  return admissionReview(
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web', namespace: 'team-a' },
      spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] },
    },
    { uid },
  );
}

function request(
  port: number,
  ca: Buffer,
  method: 'GET' | 'POST',
  urlPath: string,
  body?: unknown,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    // The certificate names 127.0.0.1, and agent: false leaves no pooled connection behind.
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path: urlPath,
        ca,
        agent: false,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, body: text });
        });
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

function connectError(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      resolve(err.code);
    });
  });
}

/** Resource types (as process.getActiveResourcesInfo names them) keeping the event loop alive. */
function countByType(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
}

function extraResources(before: ReadonlyMap<string, number>): string[] {
  return [...countByType()]
    .filter(([type, count]) => count > (before.get(type) ?? 0))
    .map(([type, count]) => `${type} ×${count - (before.get(type) ?? 0)}`);
}

/** Closed handles go away on a later turn of the event loop, so the check allows a moment. */
async function resourcesLeftAfterAMoment(before: ReadonlyMap<string, number>): Promise<string[]> {
  const deadline = Date.now() + 2_000;
  for (;;) {
    const extra = extraResources(before);
    if (extra.length === 0 || Date.now() > deadline) return extra;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('serve (in process)', () => {
  it('serves a review over HTTPS with a generated certificate, then stops and leaves nothing behind', async () => {
    const exitListeners = process.listenerCount('exit');
    const signalListeners = process.listenerCount('SIGTERM') + process.listenerCount('SIGINT');
    // Mocha arms this test's timeout only once the test function has returned its promise.
    await new Promise((resolve) => setImmediate(resolve));
    const resourcesBefore = countByType();

    const logStream = new PassThrough();
    let log = '';
    logStream.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
    const notices = new PassThrough();
    let noticeText = '';
    notices.setEncoding('utf8').on('data', (chunk: string) => (noticeText += chunk));

    const config = loadConfig({
      env: { POD_HARDENER_SHUTDOWN_DELAY_SECONDS: '0' },
      argvFlags: { port: '0', host: '127.0.0.1' },
    });
    expect(config.cluster.kind).to.equal('off');
    const serving = await startServe({
      config,
      logger: createLogger('info', { stream: logStream }),
      notices,
    });

    try {
      expect(serving.port).to.be.above(0);
      expect(noticeText).to.include(`curl --cacert ${serving.certFile} https://localhost:${serving.port}`);
      expect(process.listenerCount('SIGTERM') + process.listenerCount('SIGINT')).to.equal(signalListeners);
      const ca = await readFile(serving.certFile);

      const review = await request(serving.port, ca, 'POST', '/mutate', podReview('uid-1'));
      expect(review.status).to.equal(200);
      const answer = JSON.parse(review.body) as {
        kind: string;
        response: { uid: string; allowed: boolean; patchType?: string; patch?: string };
      };
      expect(answer.kind).to.equal('AdmissionReview');
      expect(answer.response).to.include({ uid: 'uid-1', allowed: true, patchType: 'JSONPatch' });
      const patch = JSON.parse(Buffer.from(answer.response.patch ?? '', 'base64').toString('utf8')) as {
        op: string;
        path: string;
        value: unknown;
      }[];
      expect(patch.find((op) => op.path === '/spec/containers/0/securityContext')).to.deep.include({
        op: 'add',
        value: {
          runAsNonRoot: true,
          capabilities: { drop: ['ALL'] },
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
        },
      });
      expect(patch.map((op) => op.path)).to.include('/metadata/annotations');

      expect((await request(serving.port, ca, 'GET', '/healthz')).status).to.equal(200);
      expect((await request(serving.port, ca, 'GET', '/readyz')).status).to.equal(200);
    } finally {
      await serving.stop();
    }

    expect(await connectError(serving.port)).to.equal('ECONNREFUSED');
    // The generated key does not outlive stop(), and nothing waits for the process to exit any more.
    expect(existsSync(path.dirname(serving.certFile))).to.equal(false);
    expect(process.listenerCount('exit')).to.equal(exitListeners);
    expect(await resourcesLeftAfterAMoment(resourcesBefore)).to.deep.equal([]);

    const messages = log
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => (JSON.parse(line) as { message: string }).message);
    expect(messages).to.include.members(['pod-hardener listening', 'shutdown complete']);
    expect(messages.indexOf('shutdown complete')).to.be.above(messages.indexOf('pod-hardener listening'));
  });

  it('stop() called twice stops once', async () => {
    const config = loadConfig({
      env: { POD_HARDENER_SHUTDOWN_DELAY_SECONDS: '0' },
      argvFlags: { port: '0', host: '127.0.0.1' },
    });
    const logStream = new PassThrough();
    let log = '';
    logStream.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
    const serving = await startServe({
      config,
      logger: createLogger('info', { stream: logStream }),
      notices: new PassThrough(),
    });
    await Promise.all([serving.stop(), serving.stop()]);
    await serving.stop();
    expect(log.match(/shutdown complete/g)).to.have.length(1);
  });
});
