/**
 * The README's sample: examples/admission-review.json sent to /mutate must return exactly the patch in
 * examples/admission-review.patch.json, so the documentation cannot drift from the code.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import request from 'supertest';
import { testApp } from './support/app.js';

const read = (name: string): object =>
  JSON.parse(readFileSync(new URL(`../examples/${name}`, import.meta.url), 'utf8')) as object;

describe('README example', () => {
  it('returns the documented patch for the sample AdmissionReview', async () => {
    const app = testApp({ maxBodyBytes: 3 * 1024 * 1024 });
    const res = await request(app).post('/mutate').send(read('admission-review.json')).expect(200);
    expect(res.body.response.uid).to.equal('705ab4f5-6393-11e8-b7cc-42010a800002');
    const patch = JSON.parse(Buffer.from(res.body.response.patch, 'base64').toString('utf8'));
    expect(patch).to.deep.equal(read('admission-review.patch.json'));
  });
});
