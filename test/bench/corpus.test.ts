import { expect } from 'chai';
import {
  controllerCreateReview,
  bodyTemplate,
  buildCorpus,
  deploymentPod,
  MIB,
  requestUid,
  reviewBytes,
  UID_PLACEHOLDER,
  type CorpusEntry,
} from '../../bench/corpus.js';
import { ENGINE_CONTAINER_COUNTS } from '../../bench/engine.js';
import { responseProblem } from '../../bench/load.js';
import { DEFAULT_MAX_BODY_BYTES } from '../../src/config/index.js';
import type { AdmissionReview } from '../../src/engine/review/envelope.js';
import { LOOKUPS_OFF } from '../../src/engine/resolve/namespace.js';
import { reviewAdmission } from '../../src/engine/review/review.js';
import { parseAdmissionReview } from '../../src/engine/review/envelope.js';
import { DEFAULT_ENGINE_SETTINGS } from '../../src/engine/resolve/settings.js';
import type { Pod } from '../../src/engine/pod/model.js';

const KIB = 1024;

function podOf(review: AdmissionReview): Pod {
  return review.request.object as Pod;
}

function containerNames(pod: Pod): string[] {
  return [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].map((c) => c.name);
}

/** What the server sees: the JSON text with a real uid in place of the placeholder, parsed. */
function asSent(entry: CorpusEntry, uid: string): unknown {
  const { prefix, suffix } = bodyTemplate(entry.review);
  return JSON.parse(prefix + uid + suffix);
}

describe('bench corpus', () => {
  const corpus = buildCorpus();
  const byId = (id: CorpusEntry['id']): CorpusEntry => {
    const entry = corpus.find((e) => e.id === id);
    if (!entry) throw new Error(`no corpus entry ${id}`);
    return entry;
  };

  it('has the four pods the benchmark reports on, each with the containers it claims', () => {
    expect(corpus.map((e) => e.id)).to.deep.equal(['small', 'typical', 'containers-100', 'near-1mib']);
    for (const entry of corpus) {
      const names = containerNames(podOf(entry.review));
      expect(names, entry.id).to.have.length(entry.containers);
      expect(new Set(names).size, `${entry.id}: container names are unique`).to.equal(names.length);
    }
  });

  it('has the sizes it claims', () => {
    expect(reviewBytes(byId('small').review)).to.be.below(2 * KIB);
    expect(reviewBytes(byId('typical').review)).to.be.within(5 * KIB, 7 * KIB);
    expect(reviewBytes(byId('containers-100').review)).to.be.within(100 * KIB, 150 * KIB);
    const large = reviewBytes(byId('near-1mib').review);
    expect(large).to.be.within(0.95 * MIB, MIB);
    expect(large).to.be.below(DEFAULT_MAX_BODY_BYTES);
  });

  it('keeps the large pod within the API server limit on annotations (256 KiB in total)', () => {
    const annotations = podOf(byId('near-1mib').review).metadata?.annotations ?? {};
    const total = Object.entries(annotations).reduce(
      (sum, [k, v]) => sum + Buffer.byteLength(k) + Buffer.byteLength(v),
      0,
    );
    expect(total).to.be.below(256 * KIB);
  });

  it('is the same in every run', () => {
    expect(JSON.stringify(buildCorpus())).to.equal(JSON.stringify(corpus));
  });

  it('sends reviews that parseAdmissionReview accepts, each with the uid of its request', () => {
    for (const entry of corpus) {
      const uid = requestUid(7, 42);
      const parsed = parseAdmissionReview(asSent(entry, uid));
      if ('error' in parsed) expect.fail(`${entry.id}: ${parsed.error}`);
      expect(parsed.review.request.uid).to.equal(uid);
      expect(parsed.review.request.object).to.deep.equal(entry.review.request.object);
    }
  });

  it('has pods that all need a patch, as the benchmark checks', async () => {
    for (const entry of corpus) {
      const parsed = parseAdmissionReview(asSent(entry, requestUid(1, 1)));
      if ('error' in parsed) expect.fail(`${entry.id}: ${parsed.error}`);
      const result = await reviewAdmission(parsed.review, {
        settings: DEFAULT_ENGINE_SETTINGS,
        namespaces: LOOKUPS_OFF,
      });
      expect(result.response.patchType === 'JSONPatch', entry.id).to.equal(entry.expectPatch);
    }
  });

  it('builds the engine scaling pods with the claimed container counts, all accepted', () => {
    for (const n of ENGINE_CONTAINER_COUNTS) {
      const review = controllerCreateReview(deploymentPod(n), `engine-${n}`);
      expect(containerNames(podOf(review)), `${n}`).to.have.length(n);
      expect(parseAdmissionReview(JSON.parse(JSON.stringify(review)))).to.have.property('review');
    }
    expect(() => deploymentPod(0)).to.throw();
  });

  it('puts the uid placeholder in request.uid only', () => {
    for (const entry of corpus) {
      expect(entry.review.request.uid).to.equal(UID_PLACEHOLDER);
      const { prefix, suffix } = bodyTemplate(entry.review);
      expect(prefix + suffix).not.to.include(UID_PLACEHOLDER);
    }
  });

  it('makes request uids that are unique and shaped like the API server’s', () => {
    const uids = [requestUid(1, 1), requestUid(1, 2), requestUid(2, 1)];
    expect(new Set(uids).size).to.equal(3);
    for (const uid of uids) expect(uid).to.match(/^[0-9a-f]{8}-0000-4000-8000-[0-9a-f]{12}$/);
  });
});

describe('bench response check', () => {
  const ok = (patch: boolean): string =>
    JSON.stringify({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: 'u1', allowed: true, ...(patch ? { patchType: 'JSONPatch', patch: 'W10=' } : {}) },
    });

  it('accepts a correct answer', () => {
    expect(responseProblem(200, ok(true), 'u1', true)).to.equal(undefined);
    expect(responseProblem(200, ok(false), 'u1', false)).to.equal(undefined);
  });

  it('flags a wrong status, body, uid or a missing patch', () => {
    expect(responseProblem(500, ok(true), 'u1', true)).to.match(/status 500/);
    expect(responseProblem(200, 'not json', 'u1', true)).to.match(/not JSON/);
    expect(responseProblem(200, '{}', 'u1', true)).to.match(/no response/);
    expect(responseProblem(200, ok(true), 'u2', true)).to.match(/uid/);
    expect(responseProblem(200, ok(false), 'u1', true)).to.match(/no JSON Patch/);
  });
});
