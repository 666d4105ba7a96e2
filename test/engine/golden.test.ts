/**
 * Golden fixtures: each folder under test/fixtures holds `input.yaml` (the namespace, operation and
 * objects of one AdmissionReview) and `expected.yaml` (outcome, warnings, audit annotations, the JSON
 * Patch and the pod it produces). Expected files change only when regenerated on purpose:
 *   UPDATE_GOLDEN=1 npm run test:unit -- --grep golden
 * and the diff is then reviewed like code.
 */
import { expect } from 'chai';
import jsonPatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { LOOKUPS_OFF, type NamespaceInfo } from '../../src/engine/resolve/namespace.js';
import { reviewAdmission } from '../../src/engine/review/review.js';
import { admissionReview } from '../support/admission-review.js';
import { parseAdmissionReview } from '../../src/engine/review/envelope.js';
import { DEFAULT_ENGINE_SETTINGS, type ImageProfile } from '../../src/engine/resolve/settings.js';
import { keysFor } from '../../src/engine/resolve/keys.js';
import type { Pod } from '../../src/engine/pod/model.js';
import { staticNamespaces } from '../support/namespaces.js';
import { TEST_SEALER, TEST_NOW_MS, testNow } from '../support/seal.js';

const fixturesDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
const update = process.env.UPDATE_GOLDEN === '1';

interface FixtureInput {
  description: string;
  namespace?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  kind?: { group: string; version: string; kind: string };
  operation?: string;
  subResource?: string;
  object: unknown;
  oldObject?: unknown;
  userInfo?: { username?: string; groups?: string[] };
  /**
   * The object's changes record was written by our own earlier pass of this request (reinvocation):
   * the harness seals it as that pass would have. Without it, a record in the input is the author's.
   */
  sealedRecord?: boolean;
  /** The configuration's imageProfiles for this case; none otherwise, as by default. */
  imageProfiles?: ImageProfile[];
}

/** Seals the record the input carries, the way our first pass of the same request would have. */
function withSealedRecord(input: FixtureInput): unknown {
  const pod = structuredClone(input.object) as Pod;
  const keys = keysFor(DEFAULT_ENGINE_SETTINGS.annotationPrefix);
  const annotations = pod.metadata?.annotations ?? {};
  annotations[keys.changesSeal] = TEST_SEALER.seal(
    {
      namespace: 'team-a',
      name: pod.metadata?.name ?? '',
      generateName: pod.metadata?.generateName ?? '',
      username: input.userInfo?.username ?? '',
      dryRun: false,
      changes: annotations[keys.changes] ?? '',
      optOuts: annotations[keys.optOuts],
    },
    TEST_NOW_MS - 1000,
  );
  return pod;
}

async function run(input: FixtureInput): Promise<Record<string, unknown>> {
  // The pod is always in team-a; naming the fixture's namespace otherwise simulates a lookup miss.
  const namespaces = input.namespace
    ? staticNamespaces({
        [input.namespace.name ?? 'team-a']: {
          labels: input.namespace.labels ?? {},
          annotations: input.namespace.annotations ?? {},
        },
      } satisfies Record<string, NamespaceInfo>)
    : LOOKUPS_OFF;
  const object = input.sealedRecord === true ? withSealedRecord(input) : input.object;
  const parsed = parseAdmissionReview(
    admissionReview(object, {
      uid: 'golden',
      kind: input.kind,
      subResource: input.subResource,
      operation: input.operation,
      oldObject: input.oldObject,
      userInfo: input.userInfo,
    }),
  );
  if ('error' in parsed) throw new Error(parsed.error);
  const result = await reviewAdmission(parsed.review, {
    settings: { ...DEFAULT_ENGINE_SETTINGS, imageProfiles: input.imageProfiles ?? [] },
    namespaces,
    sealer: TEST_SEALER,
    now: testNow,
  });
  const { response } = result;
  expect(response.uid).to.equal('golden');
  const actual: Record<string, unknown> = { outcome: result.outcome };
  if (!response.allowed) actual.denied = response.status;
  if (result.refusedSkips.length > 0) actual.refusedSkips = result.refusedSkips;
  if (result.skipReason) actual.skipReason = result.skipReason;
  if (response.warnings) actual.warnings = response.warnings;
  if (response.auditAnnotations) actual.auditAnnotations = response.auditAnnotations;
  if (response.patch !== undefined) {
    expect(response.patchType).to.equal('JSONPatch');
    const patch = JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as Operation[];
    actual.patch = patch;
    actual.result = jsonPatch.applyPatch(structuredClone(object), patch, true).newDocument;
  } else {
    expect(response).not.to.have.property('patchType');
  }
  return actual;
}

describe('golden fixtures', () => {
  const cases = readdirSync(fixturesDir).filter((name) =>
    existsSync(path.join(fixturesDir, name, 'input.yaml')),
  );

  it('has at least 30 cases', () => {
    expect(cases.length).to.be.at.least(30);
  });

  for (const name of cases.sort()) {
    const dir = path.join(fixturesDir, name);
    const input = YAML.parse(readFileSync(path.join(dir, 'input.yaml'), 'utf8')) as FixtureInput;
    it(`${name}: ${input.description}`, async () => {
      const actual = await run(input);
      const expectedFile = path.join(dir, 'expected.yaml');
      if (update) {
        writeFileSync(expectedFile, YAML.stringify(actual, { lineWidth: 0, aliasDuplicateObjects: false }));
        return;
      }
      expect(existsSync(expectedFile), `${expectedFile} missing; run with UPDATE_GOLDEN=1`).to.equal(true);
      expect(actual).to.deep.equal(YAML.parse(readFileSync(expectedFile, 'utf8')));

      // Re-hardening what we produced must change nothing (reinvocationPolicy: IfNeeded).
      if (actual.result !== undefined) {
        // The result carries the seal our pass wrote, as the API server would send it back.
        const again = await run({ ...input, object: actual.result, sealedRecord: false });
        expect(again.patch, 'second pass must be empty').to.equal(undefined);
      }
    });
  }
});
