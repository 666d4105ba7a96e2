/**
 * Hostile AdmissionReview bodies: what a pod author who may only create pods in an opted-in namespace
 * can make the API server send, since the webhook sees the pod before the API server validates it.
 * The reviews are built with the project's AdmissionReview builder (bench/corpus.ts) and returned as
 * the exact bytes to send; deep nesting is spliced in as text, so this process never recurses over it.
 */
import { controllerCreateReview, smallPod } from '../../../bench/corpus.js';
import { ephemeralContainersUpdate } from '../../support/admission-review.js';
import { CONTROL_IDS } from '../../../src/engine/controls/ids.js';
import type { AdmissionReview } from '../../../src/engine/review/envelope.js';

/**
 * Pods here are plain JSON, typed loosely: they are meant to hold what the client library's types
 * would not allow, and they are only ever serialised.
 */
export type JsonObject = Record<string, unknown>;
export interface ContainerJson extends JsonObject {
  name: string;
}
export interface PodJson extends JsonObject {
  metadata: JsonObject;
  spec: JsonObject & { containers: ContainerJson[] };
}

export const PREFIX = 'pod-hardener.io';
export const ANNOTATION = {
  skip: `${PREFIX}/skip`,
  skipControls: `${PREFIX}/skip-controls`,
  runAsUser: `${PREFIX}/run-as-user`,
  writablePaths: `${PREFIX}/writable-paths`,
  changes: `${PREFIX}/changes`,
  optOuts: `${PREFIX}/opt-outs`,
} as const;

/** The webhook's default maxBodyBytes (3 MiB). */
export const BODY_LIMIT_BYTES = 3 * 1024 * 1024;
/** Replaced, as text, by a deeply nested JSON value. */
const DEEP_MARK = '@@abuse-deep@@';

let uidCounter = 0;
export function nextUid(tag: string): string {
  uidCounter += 1;
  return `abuse-${tag}-${uidCounter}`;
}

export function minimalContainer(i: number): ContainerJson {
  return { name: `c${i}`, image: 'i' };
}

export function minimalContainers(n: number): ContainerJson[] {
  return Array.from({ length: n }, (_, i) => minimalContainer(i));
}

/** A bare pod, as `kubectl run` makes it, with these containers and annotations. */
export function pod(containers: ContainerJson[], annotations: Record<string, string> = {}): PodJson {
  const base = JSON.parse(JSON.stringify(smallPod())) as PodJson;
  base.metadata.name = 'abuse';
  base.metadata.annotations = annotations;
  base.spec.containers = containers;
  return base;
}

/** The review as the API server sends a CREATE (the project's builder, bench/corpus.ts). */
export function createReview(p: PodJson, tag = 'create'): AdmissionReview {
  return controllerCreateReview(p, nextUid(tag));
}

/** The UPDATE of the pods/ephemeralcontainers subresource that `kubectl debug` makes. */
export function ephemeralReview(object: PodJson, oldObject: PodJson): AdmissionReview {
  return ephemeralContainersUpdate(object, oldObject, { uid: nextUid('ephemeral') });
}

export function bodyOf(review: unknown): Buffer {
  return Buffer.from(JSON.stringify(review));
}

/** `depth` nested objects, `{"a":{"a":...1...}}`, as JSON text. */
export function deepObjectText(depth: number): string {
  return '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

/** `depth` nested arrays as JSON text. */
export function deepArrayText(depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth);
}

/** The deep value marker: put it where the nesting goes, then call spliceDeep on the body. */
export const DEEP = DEEP_MARK;

export function spliceDeep(review: unknown, deepText: string): Buffer {
  const text = JSON.stringify(review);
  const at = text.indexOf(JSON.stringify(DEEP_MARK));
  if (at < 0) throw new Error('no deep marker in the review');
  return Buffer.concat([
    Buffer.from(text.slice(0, at)),
    Buffer.from(deepText),
    Buffer.from(text.slice(at + DEEP_MARK.length + 2)),
  ]);
}

export function paths(n: number, prefix = '/w'): string {
  return Array.from({ length: n }, (_, i) => `${prefix}/${i}`).join(',');
}

/**
 * `n` container/control entries, distinct where the pod has enough containers: every control of the
 * first container, then of the next, and so on; with `unknown`, every other entry names no container.
 */
export function containerControlEntries(
  n: number,
  containerNames: readonly string[],
  unknown = false,
): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const control = CONTROL_IDS[i % CONTROL_IDS.length]!;
    const known = containerNames[Math.floor(i / CONTROL_IDS.length) % containerNames.length] ?? 'none';
    out.push(`${unknown && i % 2 === 1 ? `nosuch-${i}` : known}/${control}`);
  }
  return out.join(',');
}

/** A forged changes record: `n` entries whose `truncated` counts are negative, fractional, huge or not numbers. */
export function forgedChanges(n: number): string {
  const truncated = ['-1', '1e308', '0.5', '-1e308', '1e999', '"NaN"', 'null', '9007199254740993'];
  const entries: string[] = [];
  for (let i = 0; i < n; i++) entries.push(`{"truncated":${truncated[i % truncated.length]!}}`);
  return `[${entries.join(',')}]`;
}

/** Entries claiming the webhook set fields it did not (the forged-record shape of issue 11). */
export function forgedRealisticChanges(n: number): string {
  const entries = Array.from({ length: n }, (_, i) => ({
    control: CONTROL_IDS[i % CONTROL_IDS.length],
    target: i % 3 === 0 ? 'pod' : `c${i % 50}`,
    path: i % 3 === 0 ? '/spec/securityContext/runAsNonRoot' : `/spec/containers/${i % 50}/securityContext`,
    value: i % 2 === 0 ? true : { runAsNonRoot: false },
  }));
  return JSON.stringify(entries);
}

/** A one-container pod whose JSON review is exactly `targetBytes` long, the bulk in env values. */
export function reviewOfSize(targetBytes: number): Buffer {
  const env: { name: string; value: string }[] = [];
  const container: ContainerJson = { name: 'app', image: 'nginx:1.27', env };
  const review = createReview(pod([container]), 'size');
  const baseLength = bodyOf(review).length;
  const chunk = 64 * 1024;
  let remaining = targetBytes - baseLength;
  let i = 0;
  // Each env entry costs its value plus `{"name":"E0000","value":""}` and a comma.
  while (remaining > 0) {
    const overhead = `{"name":"E${String(i).padStart(4, '0')}","value":""}`.length + (env.length > 0 ? 1 : 0);
    if (remaining <= overhead) break;
    const value = 'v'.repeat(Math.min(chunk, remaining - overhead));
    env.push({ name: `E${String(i).padStart(4, '0')}`, value });
    remaining -= overhead + value.length;
    i++;
  }
  let body = bodyOf(review);
  // Make up the last few bytes in the last value.
  const last = env[env.length - 1];
  if (last !== undefined && body.length < targetBytes) {
    last.value += 'v'.repeat(targetBytes - body.length);
    body = bodyOf(review);
  }
  if (body.length !== targetBytes) throw new Error(`built ${body.length} bytes, wanted ${targetBytes}`);
  return body;
}

export interface HostileCase {
  readonly name: string;
  /** Built only when the case runs, so the suite never holds every body at once. */
  readonly body: () => Buffer;
  /** over-limit: the body exceeds maxBodyBytes and must be refused with a 4xx (413). */
  readonly kind?: 'pod' | 'over-limit';
  /** Sent with Transfer-Encoding: chunked instead of a Content-Length. */
  readonly chunked?: boolean;
  /** How many copies to send at once (default 1). */
  readonly concurrent?: number;
}

const withAnnotations = (n: number, annotations: Record<string, string>): Buffer =>
  bodyOf(createReview(pod(minimalContainers(n), annotations)));

const oneContainer = (fields: JsonObject): Buffer =>
  bodyOf(createReview(pod([{ name: 'app', image: 'nginx:1.27', ...fields }])));

export const HOSTILE_CASES: readonly HostileCase[] = [
  // Issue 11, finding 1: one request killed the process.
  {
    name: '100 containers, writable-paths of 20,000 entries',
    body: () => withAnnotations(100, { [ANNOTATION.writablePaths]: paths(20_000) }),
  },
  {
    name: '60,000 minimal containers (~1.8 MB)',
    body: () => bodyOf(createReview(pod(minimalContainers(60_000)))),
  },
  { name: '30,000 minimal containers', body: () => bodyOf(createReview(pod(minimalContainers(30_000)))) },
  // Finding 2: quadratic cost blocked the event loop.
  {
    name: '1 container, 16,000 writable paths',
    body: () => withAnnotations(1, { [ANNOTATION.writablePaths]: paths(16_000) }),
  },
  {
    name: '1 container, 32,000 writable paths',
    body: () => withAnnotations(1, { [ANNOTATION.writablePaths]: paths(32_000) }),
  },
  {
    name: 'skip-controls of 12,000 distinct container/control entries, 2,000 containers',
    body: () => {
      const containers = minimalContainers(2_000);
      const names = containers.map((c) => c.name);
      return bodyOf(
        createReview(pod(containers, { [ANNOTATION.skipControls]: containerControlEntries(12_000, names) })),
      );
    },
  },
  {
    name: 'skip-controls of 12,000 entries, half naming no container, 100 containers',
    body: () => {
      const containers = minimalContainers(100);
      const names = containers.map((c) => c.name);
      return bodyOf(
        createReview(
          pod(containers, { [ANNOTATION.skipControls]: containerControlEntries(12_000, names, true) }),
        ),
      );
    },
  },
  {
    name: 'at the caps: 250 containers with 20 mounts and 20 env each, 32 writable paths',
    body: () => {
      const containers = Array.from({ length: 250 }, (_, i) => ({
        name: `c${i}`,
        image: 'registry.example/app:1',
        volumeMounts: Array.from({ length: 20 }, (_, j) => ({ name: `v${j}`, mountPath: `/m/${j}` })),
        env: Array.from({ length: 20 }, (_, j) => ({ name: `E${j}`, value: 'v' })),
      }));
      const p = pod(containers, { [ANNOTATION.writablePaths]: paths(32) });
      p.spec.volumes = Array.from({ length: 20 }, (_, j) => ({ name: `v${j}`, emptyDir: {} }));
      return bodyOf(createReview(p));
    },
  },
  // Finding 3: 500s.
  {
    name: '50 containers x 5,000 writable paths',
    body: () => withAnnotations(50, { [ANNOTATION.writablePaths]: paths(5_000) }),
  },
  {
    name: 'an object nested 10,000 levels deep in an unknown container field',
    body: () => spliceDeep(createReview(pod([{ name: 'app', image: 'i', x: DEEP }])), deepObjectText(10_000)),
  },
  {
    name: 'an object nested 100,000 levels deep in an unknown container field',
    body: () =>
      spliceDeep(createReview(pod([{ name: 'app', image: 'i', x: DEEP }])), deepObjectText(100_000)),
  },
  {
    name: 'arrays nested 100,000 levels deep in metadata.managedFields',
    body: () => {
      const p = pod([minimalContainer(0)]);
      p.metadata.managedFields = [{ manager: 'abuse', fieldsV1: DEEP }];
      return spliceDeep(createReview(p), deepArrayText(100_000));
    },
  },
  {
    name: 'an object nested 10,000 levels deep in securityContext and in spec',
    body: () => {
      const p = pod([{ name: 'app', image: 'i', securityContext: { seLinuxOptions: DEEP } }]);
      p.spec.abuse = 'x';
      const text = spliceDeep(createReview(p), deepObjectText(10_000)).toString();
      return Buffer.from(text.replace('"abuse":"x"', `"abuse":${deepObjectText(10_000)}`));
    },
  },
  // Large and deep content in every pod-hardener annotation.
  {
    name: 'skip: a 1 MiB value',
    body: () => withAnnotations(1, { [ANNOTATION.skip]: 't'.repeat(1024 * 1024) }),
  },
  {
    name: 'skip-controls: 60,000 pod-wide entries and 1 MiB of commas',
    body: () =>
      withAnnotations(10, {
        [ANNOTATION.skipControls]:
          Array.from({ length: 60_000 }, (_, i) => CONTROL_IDS[i % CONTROL_IDS.length]).join(',') +
          ','.repeat(1024 * 1024),
      }),
  },
  {
    name: 'run-as-user: 1 MiB of digits',
    body: () => withAnnotations(1, { [ANNOTATION.runAsUser]: '9'.repeat(1024 * 1024) }),
  },
  {
    name: 'run-as-user: 100,000 comma-separated UIDs',
    body: () =>
      withAnnotations(1, {
        [ANNOTATION.runAsUser]: Array.from({ length: 100_000 }, (_, i) => String(1000 + i)).join(','),
      }),
  },
  {
    name: 'writable-paths: 500 paths of 2,000 segments, and one path of 1 MiB',
    body: () =>
      withAnnotations(3, {
        [ANNOTATION.writablePaths]: [
          ...Array.from({ length: 500 }, (_, i) => `${'/a'.repeat(1_000)}/${i}`),
          '/' + 'b'.repeat(1024 * 1024),
        ].join(','),
      }),
  },
  {
    name: 'writable-paths: 100,000 copies of one path and of its variants',
    body: () =>
      withAnnotations(10, {
        [ANNOTATION.writablePaths]: Array.from(
          { length: 100_000 },
          (_, i) => ['/var/cache', '/var/cache/', '//var//cache', '/var/./cache', '/tmp'][i % 5],
        ).join(','),
      }),
  },
  {
    name: 'changes: a forged array of 100,000 entries with negative, NaN and huge truncated counts',
    body: () => withAnnotations(1, { [ANNOTATION.changes]: forgedChanges(100_000) }),
  },
  {
    name: 'changes: 20,000 forged entries claiming fields on 50 containers',
    body: () => withAnnotations(50, { [ANNOTATION.changes]: forgedRealisticChanges(20_000) }),
  },
  {
    name: 'changes: arrays nested 500,000 deep as annotation text',
    body: () => withAnnotations(1, { [ANNOTATION.changes]: deepArrayText(500_000) }),
  },
  {
    name: 'every pod-hardener annotation about 250 KiB at once, 200 containers',
    body: () => {
      const containers = minimalContainers(200);
      return bodyOf(
        createReview(
          pod(containers, {
            [ANNOTATION.skip]: 'false'.repeat(50_000),
            [ANNOTATION.skipControls]: containerControlEntries(
              9_000,
              containers.map((c) => c.name),
              true,
            ),
            [ANNOTATION.runAsUser]: '1'.repeat(250_000),
            [ANNOTATION.writablePaths]: paths(28_000),
            [ANNOTATION.changes]: forgedChanges(12_000),
            [ANNOTATION.optOuts]: containerControlEntries(
              9_000,
              containers.map((c) => c.name),
            ),
            'kubernetes.io/config.mirror': 'x'.repeat(250_000),
          }),
        ),
      );
    },
  },
  {
    name: 'metadata: 50,000 annotations and 50,000 labels',
    body: () => {
      const p = pod(minimalContainers(3));
      const annotations: Record<string, string> = {};
      const labels: Record<string, string> = {};
      for (let i = 0; i < 50_000; i++) {
        annotations[`a${i}.example.com/k`] = 'v';
        labels[`l${i}`] = 'v';
      }
      p.metadata.annotations = annotations;
      p.metadata.labels = labels;
      return bodyOf(createReview(p));
    },
  },
  // Huge lists everywhere else in the pod.
  {
    name: '50,000 volumes',
    body: () => {
      const p = pod(minimalContainers(3));
      p.spec.volumes = Array.from({ length: 50_000 }, (_, i) => ({ name: `v${i}`, emptyDir: {} }));
      return bodyOf(createReview(p));
    },
  },
  {
    name: 'volume names pod-hardener-tmp to pod-hardener-tmp--20000 taken, 2,000 writable paths',
    body: () => {
      const p = pod(minimalContainers(5), { [ANNOTATION.writablePaths]: paths(2_000) });
      p.spec.volumes = Array.from({ length: 20_000 }, (_, i) => ({
        name: i === 0 ? 'pod-hardener-tmp' : `pod-hardener-tmp--${i + 1}`,
        emptyDir: {},
      }));
      return bodyOf(createReview(p));
    },
  },
  {
    name: '1 container with 50,000 volumeMounts, the same paths in writable-paths',
    body: () => {
      const mounts = Array.from({ length: 50_000 }, (_, i) => ({ name: 'v', mountPath: `/w/${i}` }));
      const p = pod([{ name: 'app', image: 'i', volumeMounts: mounts }], {
        [ANNOTATION.writablePaths]: paths(20_000),
      });
      p.spec.volumes = [{ name: 'v', emptyDir: {} }];
      return bodyOf(createReview(p));
    },
  },
  {
    name: '1 container with 80,000 env entries',
    body: () =>
      oneContainer({ env: Array.from({ length: 80_000 }, (_, i) => ({ name: `E${i}`, value: 'v' })) }),
  },
  {
    name: '1 container with 50,000 ports',
    body: () => oneContainer({ ports: Array.from({ length: 50_000 }, (_, i) => ({ containerPort: i + 1 })) }),
  },
  {
    name: '1 container with 100,000 added and 100,000 dropped capabilities',
    body: () =>
      oneContainer({
        securityContext: {
          capabilities: {
            add: Array.from({ length: 100_000 }, (_, i) => (i % 2 === 0 ? 'NET_ADMIN' : 'SYS_ADMIN')),
            drop: Array.from({ length: 100_000 }, (_, i) => (i % 2 === 0 ? 'all' : 'NET_RAW')),
          },
        },
      }),
  },
  {
    name: '10,000 containers all named "app", every control skipped for "app"',
    body: () =>
      bodyOf(
        createReview(
          pod(
            Array.from({ length: 10_000 }, () => ({ name: 'app', image: 'i' })),
            { [ANNOTATION.skipControls]: CONTROL_IDS.map((c) => `app/${c}`).join(',') },
          ),
        ),
      ),
  },
  {
    name: '5,000 init containers and 5,000 containers with 200 writable paths',
    body: () => {
      const p = pod(minimalContainers(5_000), { [ANNOTATION.writablePaths]: paths(200) });
      p.spec.initContainers = Array.from({ length: 5_000 }, (_, i) =>
        i % 2 === 0
          ? { name: `init${i}`, image: 'i', restartPolicy: 'Always' }
          : { name: `init${i}`, image: 'i' },
      );
      return bodyOf(createReview(p));
    },
  },
  // The ephemeral-containers subresource.
  {
    name: 'ephemeralcontainers UPDATE: 10,000 new ephemeral containers, 20,000-container oldObject',
    body: () => {
      const oldPod = pod(minimalContainers(20_000));
      const newPod = pod(minimalContainers(20_000));
      newPod.spec.ephemeralContainers = Array.from({ length: 10_000 }, (_, i) => ({
        name: `debug${i}`,
        image: 'i',
      }));
      return bodyOf(ephemeralReview(newPod, oldPod));
    },
  },
  {
    name: 'ephemeralcontainers UPDATE: 20,000 ephemeral containers already there, one new',
    body: () => {
      const existing = Array.from({ length: 20_000 }, (_, i) => ({ name: `debug${i}`, image: 'i' }));
      const oldPod = pod(minimalContainers(2));
      oldPod.spec.ephemeralContainers = existing;
      const newPod = pod(minimalContainers(2));
      newPod.spec.ephemeralContainers = [...existing, { name: 'new', image: 'i' }];
      return bodyOf(ephemeralReview(newPod, oldPod));
    },
  },
  // The body limit.
  { name: 'a body 1 KiB under the 3 MiB limit', body: () => reviewOfSize(BODY_LIMIT_BYTES - 1024) },
  {
    name: 'a body 1 byte over the 3 MiB limit',
    body: () => reviewOfSize(BODY_LIMIT_BYTES + 1),
    kind: 'over-limit',
  },
  {
    name: 'a body of 64 MiB, chunked (no Content-Length)',
    body: () => reviewOfSize(64 * 1024 * 1024),
    kind: 'over-limit',
    chunked: true,
  },
  {
    name: '8 reviews 1 KiB under the limit at once',
    body: () => reviewOfSize(BODY_LIMIT_BYTES - 1024),
    concurrent: 8,
  },
  {
    name: '8 reviews of 20,000 writable paths at once',
    body: () => withAnnotations(3, { [ANNOTATION.writablePaths]: paths(20_000) }),
    concurrent: 8,
  },
];
