/**
 * The README's sample: examples/admission-review.json sent to /mutate must return exactly the patch in
 * examples/admission-review.patch.json, so the documentation cannot drift from the code.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import request from 'supertest';
import { LOOKUPS_OFF } from '../src/engine/resolve/namespace.js';
import { DEFAULT_ENGINE_SETTINGS } from '../src/engine/resolve/settings.js';
import { buildApp } from '../src/http/app.js';
import { createMetrics } from '../src/metrics/index.js';
import { createSilentLogger } from '../src/logger.js';
import { TEST_SEALER, testNow } from './support/seal.js';

const read = (name: string): object =>
  JSON.parse(readFileSync(new URL(`../examples/${name}`, import.meta.url), 'utf8')) as object;

describe('README example', () => {
  it('returns the documented patch for the sample AdmissionReview', async () => {
    const app = buildApp({
      settings: DEFAULT_ENGINE_SETTINGS,
      namespaces: LOOKUPS_OFF,
      metrics: createMetrics({ defaultMetrics: false }),
      logger: createSilentLogger(),
      maxBodyBytes: 3 * 1024 * 1024,
      isShuttingDown: () => false,
      sealer: TEST_SEALER,
      now: testNow,
    });
    const res = await request(app).post('/mutate').send(read('admission-review.json')).expect(200);
    expect(res.body.response.uid).to.equal('705ab4f5-6393-11e8-b7cc-42010a800002');
    const patch = JSON.parse(Buffer.from(res.body.response.patch, 'base64').toString('utf8'));
    expect(patch).to.deep.equal(read('admission-review.patch.json'));
  });
});
