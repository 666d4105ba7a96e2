import { captureLog } from '../support/log-capture.js';
import { expect } from 'chai';
import request from 'supertest';
import { LOOKUPS_OFF, type NamespaceSource } from '../../src/engine/resolve/namespace.js';
import { DEFAULT_ENGINE_SETTINGS } from '../../src/engine/resolve/settings.js';
import { buildApp, type AppDeps } from '../../src/http/app.js';
import { createMetrics } from '../../src/metrics/index.js';
import { createLogger } from '../../src/logger.js';
import { testApp } from '../support/app.js';
import { admissionReview } from '../support/admission-review.js';
import type { AdmissionReview } from '../../src/engine/index.js';

const SECRET = 'hunter2-do-not-log';

function podReview(uid: string): AdmissionReview {
  return admissionReview(
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web', namespace: 'team-a' },
      spec: {
        containers: [{ name: 'app', image: 'nginx:1.27', env: [{ name: 'PASSWORD', value: SECRET }] }],
      },
    },
    { uid },
  );
}

function configMapReview(uid: string): AdmissionReview {
  return admissionReview(
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm' }, data: { password: SECRET } },
    { uid, kind: { group: '', version: 'v1', kind: 'ConfigMap' }, resource: null },
  );
}

interface Harness {
  readonly app: ReturnType<typeof buildApp>;
  readonly logs: Record<string, unknown>[];
  readonly rawLogs: () => string;
  readonly metricsText: () => Promise<string>;
  shuttingDown: boolean;
}

function harness(overrides: Partial<AppDeps> = {}): Harness {
  const log = captureLog();
  const metrics = createMetrics({ defaultMetrics: false });
  const h: Harness = {
    app: undefined as unknown as ReturnType<typeof buildApp>,
    get logs() {
      return log.lines();
    },
    rawLogs: () => log.raw(),
    metricsText: () => metrics.registry.metrics(),
    shuttingDown: false,
  };
  (h as { app: ReturnType<typeof buildApp> }).app = testApp({
    metrics,
    logger: createLogger('debug', { stream: log.stream }),
    maxBodyBytes: 64 * 1024,
    isShuttingDown: () => h.shuttingDown,
    ...overrides,
  });
  return h;
}

async function expectHealthy(h: Harness): Promise<void> {
  await request(h.app).get('/healthz').expect(200, { status: 'ok' });
}

interface JsonPatchOp {
  op: string;
  path: string;
}

describe('http/app', () => {
  describe('POST /mutate', () => {
    it('answers an AdmissionReview, echoing the uid and always allowing', async () => {
      const h = harness();
      const res = await request(h.app).post('/mutate').send(podReview('uid-123')).expect(200);
      const [line] = h.logs.filter((l) => l.message === 'admission review');
      // Whatever the engine decides, the patch fields travel together with a "patched" outcome.
      expect(res.body.response.patch !== undefined).to.equal(line?.outcome === 'patched');
      expect(res.headers['content-type']).to.match(/^application\/json/);
      expect(res.body).to.include({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' });
      expect(res.body.response.uid).to.equal('uid-123');
      expect(res.body.response.allowed).to.equal(true);
      if (res.body.response.patch !== undefined) {
        expect(res.body.response.patchType).to.equal('JSONPatch');
        const ops = JSON.parse(
          Buffer.from(res.body.response.patch as string, 'base64').toString('utf8'),
        ) as unknown;
        expect(ops).to.be.an('array').that.is.not.empty;
        for (const op of ops as JsonPatchOp[]) {
          expect(['add', 'remove', 'replace', 'move', 'copy', 'test']).to.include(op.op);
          expect(op.path).to.match(/^\//);
        }
      } else {
        expect(res.body.response).not.to.have.property('patchType');
      }
    });

    it('sends no patch fields at all when nothing changes', async () => {
      const h = harness();
      const res = await request(h.app).post('/mutate').send(configMapReview('cm-1')).expect(200);
      expect(res.body.response).to.include({ uid: 'cm-1', allowed: true });
      expect(res.body.response).not.to.have.property('patch');
      expect(res.body.response).not.to.have.property('patchType');
    });

    it('parses the body as JSON whatever the content type says', async () => {
      const h = harness();
      for (const type of ['text/plain', 'application/octet-stream', 'application/json; charset=utf-8']) {
        const res = await request(h.app)
          .post('/mutate')
          .set('Content-Type', type)
          .send(JSON.stringify(configMapReview(`t-${type}`)))
          .expect(200);
        expect(res.body.response.uid).to.equal(`t-${type}`);
      }
    });

    it('logs exactly one info line per review, with outcome and duration but never the object', async () => {
      const h = harness();
      await request(h.app).post('/mutate').send(podReview('log-1')).expect(200);
      const lines = h.logs.filter((l) => l.level === 'info');
      expect(lines).to.have.length(1);
      expect(lines[0]).to.include({ message: 'admission review', uid: 'log-1' });
      expect(lines[0]?.outcome).to.be.a('string');
      expect(lines[0]?.durationMs).to.be.a('number').and.at.least(0);
      expect(h.rawLogs()).not.to.include(SECRET);
      expect(h.rawLogs()).not.to.include('nginx:1.27');
    });

    it('counts reviews in the metrics', async () => {
      const h = harness();
      await request(h.app).post('/mutate').send(configMapReview('m-1')).expect(200);
      const text = await h.metricsText();
      expect(text).to.include('pod_hardener_admission_reviews_total{operation="CREATE",outcome="skipped"} 1');
      expect(text).to.include('pod_hardener_skipped_reviews_total{reason="not-a-pod"} 1');
      expect(text).to.match(/pod_hardener_admission_review_duration_seconds_count\{outcome="skipped"\} 1/);
    });

    describe('bad requests', () => {
      const cases: [string, (r: request.Test) => request.Test, number, RegExp][] = [
        [
          'malformed JSON',
          (r) => r.set('Content-Type', 'application/json').send('{"apiVersion": "admission'),
          400,
          /not valid JSON/,
        ],
        ['an empty object', (r) => r.send({}), 400, /AdmissionReview/],
        [
          'a v1beta1 review',
          (r) => r.send({ ...podReview('b1'), apiVersion: 'admission.k8s.io/v1beta1' }),
          400,
          /v1beta1/,
        ],
        ['a review without uid', (r) => r.send(podReview('')), 400, /uid/],
        [
          'a review whose request is missing',
          (r) => r.send({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }),
          400,
          /request/,
        ],
        ['a JSON array', (r) => r.send([1, 2]), 400, /object/],
        ['a JSON string', (r) => r.set('Content-Type', 'application/json').send('"hello"'), 400, /object/],
        ['an empty body', (r) => r.set('Content-Type', 'application/json').send(''), 400, /.+/],
        [
          'a body over the limit',
          (r) => r.send({ ...podReview('big'), pad: 'x'.repeat(70 * 1024) }),
          413,
          /limit/,
        ],
        [
          'a compressed body',
          (r) => r.set('Content-Encoding', 'gzip').set('Content-Type', 'application/json').send('{}'),
          415,
          /compressed/,
        ],
      ];

      for (const [name, send, status, message] of cases) {
        it(`answers ${status} with a JSON error for ${name}, and keeps serving`, async () => {
          const h = harness();
          const res = await send(request(h.app).post('/mutate')).expect(status);
          expect(res.headers['content-type']).to.match(/^application\/json/);
          expect(res.body.error).to.be.a('string').and.match(message);
          await expectHealthy(h);

          const warn = h.logs.filter((l) => l.level === 'warn');
          expect(warn).to.have.length(1);
          expect(warn[0]).to.include({ message: 'rejected admission request', status });
          expect(warn[0]?.reason).to.equal(res.body.error);
          expect(await h.metricsText()).to.include(
            'pod_hardener_admission_reviews_total{operation="unknown",outcome="bad_request"} 1',
          );
        });
      }

      it('honours a small configured body limit', async () => {
        const h = harness({ maxBodyBytes: 100 });
        const res = await request(h.app).post('/mutate').send(configMapReview('small')).expect(413);
        expect(res.body.error).to.equal('request body exceeds the limit of 100 bytes');
        await expectHealthy(h);
      });

      it('never echoes the body of malformed JSON', async () => {
        const h = harness();
        const res = await request(h.app)
          .post('/mutate')
          .set('Content-Type', 'application/json')
          .send(`{"password": "${SECRET}" oops}`)
          .expect(400);
        expect(JSON.stringify(res.body)).not.to.include(SECRET);
        expect(h.rawLogs()).not.to.include(SECRET);
      });
    });

    describe('internal errors', () => {
      const throwingNamespaces: NamespaceSource = {
        lookup: () => Promise.reject(new Error('informer exploded')),
        synced: () => true,
      };

      it('answers 500 with a generic error when the namespace lookup throws, and keeps serving', async () => {
        const h = harness({ namespaces: throwingNamespaces });
        const res = await request(h.app).post('/mutate').send(podReview('e-1')).expect(500);
        expect(res.body).to.deep.equal({ error: 'internal error while reviewing the admission request' });
        expect(JSON.stringify(res.body)).not.to.include('exploded');
        await expectHealthy(h);

        const errors = h.logs.filter((l) => l.level === 'error');
        expect(errors).to.have.length(1);
        expect(errors[0]).to.include({ uid: 'e-1', operation: 'CREATE', error: 'informer exploded' });
        expect(String(errors[0]?.stack)).to.include('informer exploded');
        expect(h.rawLogs()).not.to.include(SECRET);
        expect(await h.metricsText()).to.include(
          'pod_hardener_admission_reviews_total{operation="CREATE",outcome="error"} 1',
        );
      });

      it('answers 500 when the engine itself throws', async () => {
        const exploding = new Proxy(DEFAULT_ENGINE_SETTINGS, {
          get() {
            throw new Error('settings exploded');
          },
        });
        const h = harness({ settings: exploding, namespaces: throwingNamespaces });
        await request(h.app).post('/mutate').send(podReview('e-2')).expect(500);
        await expectHealthy(h);
      });
    });
  });

  describe('GET /healthz', () => {
    it('is always 200 while the process runs, even when shutting down', async () => {
      const h = harness({ namespaces: { ...LOOKUPS_OFF, synced: () => false } });
      h.shuttingDown = true;
      await expectHealthy(h);
    });
  });

  describe('GET /readyz', () => {
    it('is 200 once the namespace cache is synced', async () => {
      await request(harness().app).get('/readyz').expect(200, { status: 'ok' });
    });

    it('is 503 before the namespace cache is synced', async () => {
      let synced = false;
      const h = harness({ namespaces: { lookup: (name) => LOOKUPS_OFF.lookup(name), synced: () => synced } });
      const res = await request(h.app).get('/readyz').expect(503);
      expect(res.body.status).to.match(/not synced/);
      synced = true;
      await request(h.app).get('/readyz').expect(200);
    });

    it('is 503 while shutting down', async () => {
      const h = harness();
      h.shuttingDown = true;
      await request(h.app).get('/readyz').expect(503, { status: 'shutting down' });
    });
  });

  describe('GET /metrics', () => {
    it('serves Prometheus text with the counters after requests', async () => {
      const h = harness();
      await request(h.app).post('/mutate').send(configMapReview('x')).expect(200);
      await request(h.app).post('/mutate').send('nope').expect(400);
      const res = await request(h.app).get('/metrics').expect(200);
      expect(res.headers['content-type']).to.match(/^text\/plain; version=0\.0\.4/);
      expect(res.text).to.include('# TYPE pod_hardener_admission_reviews_total counter');
      expect(res.text).to.include(
        'pod_hardener_admission_reviews_total{operation="CREATE",outcome="skipped"} 1',
      );
      expect(res.text).to.include(
        'pod_hardener_admission_reviews_total{operation="unknown",outcome="bad_request"} 1',
      );
      expect(res.text).to.include('# TYPE pod_hardener_admission_review_duration_seconds histogram');
      expect(res.text).to.include('pod_hardener_namespace_lookup_failures_total 0');
      expect(res.text).to.include('pod_hardener_tls_reloads_total{result="success"} 0');
    });
  });

  describe('other requests', () => {
    it('answers 404 JSON for unknown paths', async () => {
      const h = harness();
      const res = await request(h.app).get('/nope').expect(404);
      expect(res.body).to.deep.equal({ error: 'not found' });
      await request(h.app).post('/mutate/extra').send({}).expect(404);
    });

    it('answers 405 with Allow for a wrong method on a known path', async () => {
      const h = harness();
      const res = await request(h.app).get('/mutate').expect(405);
      expect(res.headers.allow).to.equal('POST');
      expect(res.body.error).to.match(/POST/);
      await request(h.app).post('/healthz').expect(405);
      await expectHealthy(h);
    });

    it('does not advertise express', async () => {
      const res = await request(harness().app).get('/healthz');
      expect(res.headers).not.to.have.property('x-powered-by');
    });
  });
});
