/**
 * The review pipeline's answers to pods a hostile author writes: caps, nesting, and skips a pod can
 * claim but not earn. Golden fixtures cover the hardened results; these rows cover the decisions.
 */
import { expect } from 'chai';
import { controllerCreateReview } from '../../../bench/corpus.js';
import type { AdmissionReview } from '../../../src/engine/review/envelope.js';
import { MAX_CONTAINERS_PER_POD, MAX_OBJECT_DEPTH } from '../../../src/engine/pod/limits.js';
import { LOOKUPS_OFF, type NamespaceInfo } from '../../../src/engine/resolve/namespace.js';
import { reviewAdmission, type ReviewResult } from '../../../src/engine/review/review.js';
import { parseAdmissionReview } from '../../../src/engine/review/envelope.js';
import { DEFAULT_ENGINE_SETTINGS } from '../../../src/engine/resolve/settings.js';
import type { Pod } from '../../../src/engine/pod/model.js';
import { staticNamespaces } from '../../support/namespaces.js';

const P = 'pod-hardener.io';

function namespace(annotations: Record<string, string>): NamespaceInfo {
  return { labels: { [`${P}/enabled`]: 'true' }, annotations };
}

async function review(
  pod: Pod,
  options: { annotations?: Record<string, string>; userInfo?: unknown } = {},
): Promise<ReviewResult> {
  const object = structuredClone(pod);
  (object.metadata ??= {}).namespace = 'team-a';
  const body: AdmissionReview = controllerCreateReview(object);
  if (options.userInfo !== undefined) body.request.userInfo = options.userInfo;
  const parsed = parseAdmissionReview(JSON.parse(JSON.stringify(body)));
  if ('error' in parsed) throw new Error(parsed.error);
  const namespaces =
    options.annotations === undefined
      ? LOOKUPS_OFF
      : staticNamespaces({ 'team-a': namespace(options.annotations) });
  return reviewAdmission(parsed.review, { settings: DEFAULT_ENGINE_SETTINGS, namespaces });
}

const containers = (n: number): Pod['spec'] => ({
  containers: Array.from({ length: n }, (_, i) => ({ name: `c${i}`, image: 'example/app:1' })),
});

describe('engine/review: what a pod author cannot buy', () => {
  describe('containers per pod', () => {
    it(`reviews a pod of exactly ${MAX_CONTAINERS_PER_POD} containers`, async () => {
      const result = await review({ spec: containers(MAX_CONTAINERS_PER_POD) });
      expect(result.outcome).to.equal('patched');
    });

    it('denies a pod beyond the cap in enforce mode, saying why', async () => {
      const result = await review({ spec: containers(MAX_CONTAINERS_PER_POD + 1) });
      expect(result.outcome).to.equal('denied');
      expect(result.response.allowed).to.equal(false);
      expect(result.response.status?.code).to.equal(422);
      expect(result.response.status?.message).to.include(`${MAX_CONTAINERS_PER_POD + 1} containers`);
      expect(result.response).not.to.have.property('patch');
    });

    it('counts init and ephemeral containers too', async () => {
      const spec = containers(MAX_CONTAINERS_PER_POD - 1);
      spec!.initContainers = [{ name: 'init' }];
      spec!.ephemeralContainers = [{ name: 'debug' }];
      expect((await review({ spec })).outcome).to.equal('denied');
    });

    for (const mode of ['warn', 'audit']) {
      it(`admits it unreviewed in ${mode} mode, logged${mode === 'warn' ? ' and warned about' : ''}`, async () => {
        const result = await review({ spec: containers(60_000) }, { annotations: { [`${P}/mode`]: mode } });
        expect(result.outcome).to.equal('skipped');
        expect(result.skipReason).to.equal('over-limits');
        expect(result.response.allowed).to.equal(true);
        expect(result.logFields).to.have.property('detail').that.includes('60000 containers');
        if (mode === 'warn') expect(result.response.warnings?.[0]).to.include('60000 containers');
        else expect(result.response).not.to.have.property('warnings');
      });
    }
  });

  describe('nesting', () => {
    const nest = (depth: number): unknown => {
      let value: unknown = 'leaf';
      for (let i = 0; i < depth; i++) value = { x: value };
      return value;
    };
    it(`answers a pod nested ${MAX_OBJECT_DEPTH * 200} levels deep with a clear error, not a stack overflow`, () => {
      const body = controllerCreateReview({ spec: { containers: [{ name: 'a', image: 'x' }] } });
      (body.request.object as { spec: { containers: Record<string, unknown>[] } }).spec.containers[0]!.deep =
        nest(MAX_OBJECT_DEPTH * 200);
      const parsed = parseAdmissionReview(body);
      expect(parsed).to.deep.equal({
        error: `request.object is nested more than ${MAX_OBJECT_DEPTH} levels deep; no Pod is`,
      });
    });

    it('accepts the nesting of a real pod', () => {
      const body = controllerCreateReview({ spec: { containers: [{ name: 'a', image: 'x' }] } });
      (body.request.object as { metadata: Record<string, unknown> }).metadata = { managedFields: [nest(30)] };
      expect(parseAdmissionReview(body)).to.have.property('review');
    });
  });

  describe('the mirror-pod marker', () => {
    const mirror: Pod = {
      metadata: { annotations: { 'kubernetes.io/config.mirror': 'abc' } },
      spec: containers(1),
    };
    it('skips a pod a node creates', async () => {
      const result = await review(mirror, {
        userInfo: { username: 'system:node:n1', groups: ['system:nodes', 'system:authenticated'] },
      });
      expect(result.skipReason).to.equal('mirror-pod');
      expect(result.refusedSkips).to.deep.equal([]);
    });

    const impostors: [string, unknown][] = [
      ['a user', { username: 'alice', groups: ['system:authenticated'] }],
      ['a node name without the nodes group', { username: 'system:node:n1', groups: [] }],
      ['the nodes group without a node name', { username: 'alice', groups: ['system:nodes'] }],
      ['no userInfo at all', null],
    ];
    for (const [who, userInfo] of impostors) {
      it(`hardens it when ${who} creates it, with a warning and a refused skip`, async () => {
        const result = await review(mirror, { userInfo });
        expect(result.outcome).to.equal('patched');
        expect(result.refusedSkips).to.deep.equal(['mirror-pod']);
        expect(result.response.warnings).to.include(
          'pod-hardener: kubernetes.io/config.mirror ignored: only a node creates mirror pods',
        );
      });
    }
  });

  describe('opt-outs where the namespace forbids them', () => {
    it('are refused, warned about and counted', async () => {
      const result = await review(
        { metadata: { annotations: { [`${P}/skip`]: 'true' } }, spec: containers(1) },
        { annotations: { [`${P}/allow-opt-out`]: 'false' } },
      );
      expect(result.outcome).to.equal('patched');
      expect(result.refusedSkips).to.deep.equal(['pod-opt-out']);
    });
  });

  describe('a forged changes record', () => {
    const forged: Pod = {
      metadata: {
        annotations: { [`${P}/changes`]: '[{"control":"c","target":"pod","path":"/x","value":1}]' },
      },
      spec: containers(1),
    };
    it('never relabels the audit keys as a later pass', async () => {
      const result = await review(forged);
      expect(result.response.auditAnnotations).to.have.property('mode', 'enforce');
      expect(
        Object.keys(result.response.auditAnnotations ?? {}).some((k) => k.startsWith('reinvocation-')),
      ).to.equal(false);
    });

    it('is reported as ignored, not removed, in warn mode', async () => {
      const result = await review(forged, { annotations: { [`${P}/mode`]: 'warn' } });
      expect(result.response).not.to.have.property('patch');
      expect(result.response.warnings).to.include(
        `pod-hardener: ${P}/changes not written by pod-hardener for this request; ignored`,
      );
    });

    it('is a later pass only when this process sealed it', async () => {
      const first = await review({ spec: containers(1) });
      const patch = JSON.parse(Buffer.from(first.response.patch ?? '', 'base64').toString()) as {
        path: string;
        value: Record<string, string>;
      }[];
      const annotations = patch.find((op) => op.path === '/metadata/annotations')?.value ?? {};
      expect(annotations).to.have.property(`${P}/changes-seal`);
      const pod: Pod = { metadata: { annotations }, spec: containers(2) };
      const second = await review(pod);
      expect(second.response.auditAnnotations).to.have.property('reinvocation-mode', 'enforce');
    });
  });
});
