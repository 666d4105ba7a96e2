/**
 * Generated bodies for the fuzz run: mostly valid pods (the property tests' generator) in a CREATE
 * review, changed in random places, with random content in every pod-hardener annotation; some
 * ephemeral-container UPDATEs and other operations; some envelopes broken on purpose; and some bodies
 * that are not AdmissionReviews at all. Everything comes from one fast-check seed, so a seed and an
 * index name a body exactly.
 */
import fc from 'fast-check';
import { controllerCreateReview } from '../../../bench/corpus.js';
import { CONTROL_IDS } from '../../../src/engine/controls/ids.js';
import { podShapeProblem } from '../../../src/engine/pod/shape.js';
import { isJsonObject } from '../../../src/engine/pod/json.js';
import { podArb } from '../../support/arbitraries.js';
import { ANNOTATION } from './bodies.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const ODD_STRINGS = [
  '',
  ' ',
  '\u0000',
  '\ud800',
  '\udfff\ud800',
  '💥',
  'e\u0301',
  '\u202e',
  '/',
  '//',
  '..',
  '/..',
  '/proc',
  '/dev/',
  '/var/run/secrets/kubernetes.io/serviceaccount',
  'ALL',
  'all',
  'true',
  'false',
  'null',
  '-1',
  '0',
  '65532',
  '4294967296',
  '1e999',
  'NaN',
  '0x10',
  ' 1000 ',
  '1000.5',
  'ContainerAdministrator',
  'RuntimeDefault',
  'Unconfined',
  'windows',
  '100Mi',
  '1e3',
  '-5Gi',
  '9'.repeat(400),
  'x'.repeat(5000),
  ...CONTROL_IDS,
];

const ODD_NUMBERS = [
  0,
  -0,
  -1,
  0.5,
  1e308,
  -1e308,
  1e-300,
  2 ** 31,
  2 ** 53 + 2,
  Number.MAX_SAFE_INTEGER,
  65532,
  4294967296,
];

const stringArb: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...ODD_STRINGS),
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
);

const numberArb: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(...ODD_NUMBERS),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

const junkArb: fc.Arbitrary<Json> = fc.oneof(
  { weight: 2, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 3, arbitrary: numberArb },
  { weight: 4, arbitrary: stringArb },
  { weight: 1, arbitrary: fc.constant<Json>([]) },
  { weight: 1, arbitrary: fc.constant<Json>({}) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json> },
  { weight: 1, arbitrary: fc.array(stringArb, { maxLength: 5 }) },
);

/** Keys the engine reads, to set with odd values where they are not expected. */
const INTERESTING_KEYS = [
  'securityContext',
  'runAsUser',
  'runAsGroup',
  'runAsNonRoot',
  'fsGroup',
  'privileged',
  'allowPrivilegeEscalation',
  'readOnlyRootFilesystem',
  'capabilities',
  'add',
  'drop',
  'seccompProfile',
  'type',
  'localhostProfile',
  'windowsOptions',
  'hostProcess',
  'runAsUserName',
  'resources',
  'limits',
  'requests',
  'cpu',
  'memory',
  'volumeMounts',
  'mountPath',
  'volumes',
  'emptyDir',
  'sizeLimit',
  'name',
  'os',
  'hostNetwork',
  'restartPolicy',
  'initContainers',
  'containers',
  'ephemeralContainers',
  'targetContainerName',
  'annotations',
  'kubernetes.io/config.mirror',
  '__proto__',
  'constructor',
  'toString',
];

/** Every annotation the webhook reads, and some it writes. */
const ANNOTATION_KEYS = [...Object.values(ANNOTATION), 'kubernetes.io/config.mirror'];

const pathArb: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '/var/cache',
    '/tmp',
    '/tmp/',
    '/proc',
    '/sys',
    '/dev',
    '/etc',
    '/',
    '//x',
    '/a/../b',
    'rel',
  ),
  fc.array(fc.string({ maxLength: 6 }), { minLength: 1, maxLength: 6 }).map((parts) => '/' + parts.join('/')),
);

const changeEntryArb: fc.Arbitrary<Json> = fc.oneof(
  fc.record(
    {
      control: fc.oneof(fc.constantFrom(...CONTROL_IDS), stringArb),
      target: fc.oneof(fc.constant('pod'), stringArb),
      path: fc.oneof(
        fc.constantFrom(
          '/spec/securityContext/runAsNonRoot',
          '/spec/securityContext',
          '/spec/containers/0/securityContext',
          '/spec/volumes',
          '',
          '/',
        ),
        stringArb,
      ),
      value: junkArb,
    },
    { requiredKeys: [] },
  ) as fc.Arbitrary<Json>,
  fc.record({ truncated: fc.oneof(numberArb, stringArb, fc.constant(null)) }) as fc.Arbitrary<Json>,
  junkArb,
);

/** The text of one pod-hardener annotation: lists, JSON, numbers, unicode. */
const annotationTextArb: fc.Arbitrary<string> = fc.oneof(
  stringArb,
  fc.array(fc.oneof(pathArb, stringArb), { maxLength: 30 }).map((items) => items.join(',')),
  fc
    .tuple(
      fc.array(
        fc.oneof(
          fc.constantFrom(...CONTROL_IDS),
          fc.tuple(stringArb, fc.constantFrom(...CONTROL_IDS)).map(([c, id]) => `${c}/${id}`),
          stringArb,
        ),
        { maxLength: 30 },
      ),
      fc.constantFrom(',', ', ', ' ,', ',,'),
    )
    .map(([items, separator]) => items.join(separator)),
  fc.array(changeEntryArb, { maxLength: 20 }).map((entries) => JSON.stringify(entries)),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc.integer({ min: 200, max: 3_000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
  fc.integer({ min: 100, max: 2_000 }).map((n) => Array.from({ length: n }, (_, i) => `/p/${i}`).join(',')),
);

type Mutation =
  | { readonly op: 'replace'; readonly at: number; readonly value: Json }
  | { readonly op: 'delete'; readonly at: number }
  | { readonly op: 'set-key'; readonly at: number; readonly key: string; readonly value: Json }
  | { readonly op: 'duplicate'; readonly at: number }
  | { readonly op: 'annotation'; readonly key: string; readonly value: string }
  | {
      readonly op: 'deep';
      readonly at: number;
      readonly key: string;
      readonly depth: number;
      readonly array: boolean;
    };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('replace' as const), at: fc.nat(), value: junkArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), at: fc.nat() }) },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('set-key' as const),
      at: fc.nat(),
      key: fc.oneof(
        { weight: 5, arbitrary: fc.constantFrom(...INTERESTING_KEYS) },
        { weight: 1, arbitrary: stringArb },
      ),
      value: junkArb,
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('duplicate' as const), at: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('deep' as const),
      at: fc.nat(),
      key: fc.constantFrom(...INTERESTING_KEYS, 'x-unknown'),
      depth: fc.constantFrom(50, 500, 3_000, 12_000),
      array: fc.boolean(),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('annotation' as const),
      key: fc.constantFrom(...ANNOTATION_KEYS),
      value: annotationTextArb,
    }),
  },
);

interface Node {
  readonly parent: Json[] | { [key: string]: Json } | undefined;
  readonly key: string | number | undefined;
  readonly value: Json;
}

/** Every node of a JSON tree, parents before children (iterative: pods here are small, but still). */
function nodes(root: Json): Node[] {
  const out: Node[] = [];
  const stack: Node[] = [{ parent: undefined, key: undefined, value: root }];
  while (stack.length > 0) {
    const node = stack.pop()!;
    out.push(node);
    const v = node.value;
    if (Array.isArray(v)) v.forEach((child, i) => stack.push({ parent: v, key: i, value: child }));
    else if (v !== null && typeof v === 'object')
      for (const [k, child] of Object.entries(v)) stack.push({ parent: v, key: k, value: child });
  }
  return out;
}

/**
 * Sets a copy of `value`: fast-check hands out the same instance more than once (fc.constant), and a
 * shared one would carry mutations from body to body, or make a cycle.
 */
function setChild(parent: Json[] | { [key: string]: Json }, key: string | number, shared: Json): void {
  const value =
    typeof shared === 'object' && shared !== null ? (JSON.parse(JSON.stringify(shared)) as Json) : shared;
  if (Array.isArray(parent)) parent[key as number] = value;
  else Object.defineProperty(parent, key, { value, enumerable: true, writable: true, configurable: true });
}

function apply(root: { [key: string]: Json }, m: Mutation): void {
  if (m.op === 'annotation') {
    const metadata = isJsonObject(root.metadata) ? root.metadata : {};
    root.metadata = metadata;
    const annotations = isJsonObject(metadata.annotations) ? metadata.annotations : {};
    metadata.annotations = annotations;
    annotations[m.key] = m.value;
    return;
  }
  if (m.op === 'deep') {
    // A marker now, nested JSON text once serialised (serialize): neither this process's
    // JSON.stringify nor the node walk above has to recurse through it.
    const objects = nodes(root).filter(
      (n) => n.value !== null && typeof n.value === 'object' && !Array.isArray(n.value),
    );
    const node = objects[m.at % objects.length];
    if (node !== undefined)
      setChild(
        node.value as { [key: string]: Json },
        m.key,
        `${DEEP_PREFIX}${m.array ? 'a' : 'o'}${m.depth}@@`,
      );
    return;
  }
  const all = nodes(root);
  const node = all[m.at % all.length]!;
  switch (m.op) {
    case 'replace':
      if (node.parent !== undefined && node.key !== undefined) setChild(node.parent, node.key, m.value);
      return;
    case 'delete':
      if (node.parent === undefined || node.key === undefined) return;
      if (Array.isArray(node.parent)) node.parent.splice(node.key as number, 1);
      else Reflect.deleteProperty(node.parent, node.key);
      return;
    case 'set-key':
      if (node.value !== null && typeof node.value === 'object' && !Array.isArray(node.value))
        setChild(node.value, m.key, m.value);
      return;
    case 'duplicate':
      if (Array.isArray(node.parent)) node.parent.push(JSON.parse(JSON.stringify(node.value)) as Json);
      return;
  }
}

const DEEP_PREFIX = '@@fuzz-deep-';
const DEEP_RE = /"@@fuzz-deep-([ao])(\d+)@@"/g;

/** JSON text of the review, with every deep marker replaced by that much nesting. */
function serialize(value: unknown): Buffer {
  return Buffer.from(
    JSON.stringify(value).replace(DEEP_RE, (_, kind: string, depth: string) => {
      const n = Number(depth);
      return kind === 'a' ? '['.repeat(n) + ']'.repeat(n) : '{"a":'.repeat(n) + 'null' + '}'.repeat(n);
    }),
  );
}

/** Deep markers go last, so no other mutation walks into or copies them. */
function ordered(mutations: readonly Mutation[]): Mutation[] {
  return [...mutations.filter((m) => m.op !== 'deep'), ...mutations.filter((m) => m.op === 'deep')];
}

export type FuzzKind = 'create' | 'ephemeral' | 'other-operation' | 'envelope' | 'junk';

export interface FuzzBody {
  readonly kind: FuzzKind;
  readonly body: Buffer;
}

const createArb: fc.Arbitrary<FuzzBody> = fc
  .tuple(podArb, fc.array(mutationArb, { maxLength: 6 }))
  .map(([pod, mutations]) => {
    const object = JSON.parse(JSON.stringify(pod)) as { [key: string]: Json };
    for (const m of ordered(mutations)) apply(object, m);
    return { kind: 'create', body: serialize(controllerCreateReview(object, 'fuzz')) };
  });

const ephemeralArb: fc.Arbitrary<FuzzBody> = fc
  .tuple(podArb, fc.integer({ min: 0, max: 4 }), fc.array(mutationArb, { maxLength: 4 }), fc.boolean())
  .map(([pod, added, mutations, mutateOld]) => {
    const oldObject = JSON.parse(JSON.stringify(pod)) as { [key: string]: Json };
    const object = JSON.parse(JSON.stringify(pod)) as { [key: string]: Json };
    const spec = object.spec as { [key: string]: Json };
    spec.ephemeralContainers = Array.from({ length: added }, (_, i) => ({
      name: `debugger-${i}`,
      image: 'busybox:1.36',
      targetContainerName: (spec.containers as { name: string }[] | undefined)?.[0]?.name ?? null,
    }));
    for (const m of ordered(mutations)) apply(mutateOld ? oldObject : object, m);
    const review = controllerCreateReview(object, 'fuzz');
    return {
      kind: 'ephemeral',
      body: serialize({
        ...review,
        request: { ...review.request, operation: 'UPDATE', subResource: 'ephemeralcontainers', oldObject },
      }),
    };
  });

const otherOperationArb: fc.Arbitrary<FuzzBody> = fc
  .tuple(
    podArb,
    fc.constantFrom('UPDATE', 'DELETE', 'CONNECT', 'create', ''),
    fc.option(stringArb, { nil: undefined }),
  )
  .map(([pod, operation, subResource]) => {
    const review = controllerCreateReview(pod, 'fuzz');
    return {
      kind: 'other-operation',
      body: Buffer.from(
        JSON.stringify({
          ...review,
          request: {
            ...review.request,
            operation,
            ...(subResource === undefined ? {} : { subResource }),
            oldObject: operation === 'UPDATE' || operation === 'DELETE' ? pod : null,
          },
        }),
      ),
    };
  });

/** The review around a valid pod, changed in random places (the pod itself included). */
const envelopeArb: fc.Arbitrary<FuzzBody> = fc
  .tuple(podArb, fc.array(mutationArb, { minLength: 1, maxLength: 4 }))
  .map(([pod, mutations]) => {
    const review = JSON.parse(JSON.stringify(controllerCreateReview(pod, 'fuzz'))) as { [key: string]: Json };
    for (const m of ordered(mutations)) apply(review, m.op === 'annotation' ? { op: 'delete', at: 0 } : m);
    return { kind: 'envelope', body: serialize(review) };
  });

const junkBodyArb: fc.Arbitrary<FuzzBody> = fc
  .oneof(
    fc.jsonValue({ maxDepth: 5 }).map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
    fc.string({ unit: 'binary', maxLength: 200 }).map((s) => Buffer.from(s)),
    fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
    fc.tuple(podArb, fc.nat()).map(([pod, cut]) => {
      const text = JSON.stringify(controllerCreateReview(pod, 'fuzz'));
      return Buffer.from(text.slice(0, cut % text.length));
    }),
    fc
      .constantFrom('', '{}', '[]', 'null', '"AdmissionReview"', '{"kind":"AdmissionReview"}')
      .map((s) => Buffer.from(s)),
  )
  .map((body) => ({ kind: 'junk' as const, body }));

export const fuzzBodyArb: fc.Arbitrary<FuzzBody> = fc.oneof(
  { weight: 70, arbitrary: createArb },
  { weight: 10, arbitrary: ephemeralArb },
  { weight: 5, arbitrary: otherOperationArb },
  { weight: 7, arbitrary: envelopeArb },
  { weight: 8, arbitrary: junkBodyArb },
);

/**
 * Pod-shaped: a v1 AdmissionReview of a core Pod whose object (and oldObject, if any) passes the
 * project's pod shape check. For these a 5xx is a failure; the rest may get a 400, never a crash.
 */
export function isPodShaped(body: Buffer): boolean {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    return false;
  }
  if (!isJsonObject(value) || value.apiVersion !== 'admission.k8s.io/v1' || value.kind !== 'AdmissionReview')
    return false;
  const request = value.request;
  if (!isJsonObject(request) || !isJsonObject(request.kind)) return false;
  if (request.kind.kind !== 'Pod' || (request.kind.group ?? '') !== '') return false;
  if (request.object === undefined || request.object === null) return false;
  if (podShapeProblem(request.object) !== undefined) return false;
  return (
    request.oldObject === undefined ||
    request.oldObject === null ||
    podShapeProblem(request.oldObject) === undefined
  );
}
