/**
 * The differential test of `pod-hardener harden` against the webhook: the same pod templates (every
 * golden fixture that is a plain pod CREATE in an opted-in namespace in enforce mode, and
 * test/e2e/data/differential-workloads.yaml with a workload of every kind) are hardened by the built
 * CLI offline and by the webhook on the real API server, and the two pods must be the same.
 *
 * For each template two pods are created with server-side dry-run (the webhook has sideEffects: None,
 * so it is called on dry-run requests): the template as written in an opted-in namespace, which the
 * webhook hardens, and the CLI's hardened template in a namespace that did not opt in, which the
 * webhook never sees. The API server defaults both the same way (imagePullPolicy,
 * terminationMessagePath, dnsPolicy, the service-account token volume ...), so their specs are
 * compared whole. Only two things are set aside: the random suffix of the service-account token volume
 * (kube-api-access-xxxxx) and our record annotations (changes, changes-seal, opt-outs), which admission
 * writes and the CLI deliberately does not. Every other annotation and every label must match.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import type { V1Pod } from '@kubernetes/client-node';
import { parseAllDocuments, parse, stringify } from 'yaml';
import { createNamespace, OPTED_IN } from './support/cluster.js';
import { runCli } from './support/cli.js';
import { e2e } from './support/context.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixturesDir = path.join(here, '..', 'fixtures');
const workloadsFile = path.join(here, 'data', 'differential-workloads.yaml');

const RECORD_KEYS = ['pod-hardener.io/changes', 'pod-hardener.io/changes-seal', 'pod-hardener.io/opt-outs'];
const OPT_IN_LABEL = 'pod-hardener.io/enabled';

type Json = Record<string, unknown>;

interface FixtureInput {
  description: string;
  namespace?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  kind?: { kind: string };
  operation?: string;
  subResource?: string;
  sealedRecord?: boolean;
  userInfo?: unknown;
  imageProfiles?: unknown;
  object: Json;
}

/** Why a golden fixture is not a plain pod CREATE in an opted-in namespace in enforce mode, if it is not. */
function whyNotDifferential(input: FixtureInput): string | undefined {
  if (input.kind !== undefined && input.kind.kind !== 'Pod') return `a ${input.kind.kind}, not a pod`;
  if (input.operation !== undefined && input.operation !== 'CREATE') {
    return input.subResource === undefined
      ? `a pod ${input.operation}`
      : `the ${input.subResource} subresource`;
  }
  if (input.subResource !== undefined) return `the ${input.subResource} subresource`;
  if (input.sealedRecord === true) return 'needs a record sealed by an earlier pass (reinvocation)';
  if (input.userInfo !== undefined) return 'needs a special requesting user';
  if (input.imageProfiles !== undefined)
    return 'needs imageProfiles, which the e2e webhook does not run with';
  const ns = input.namespace;
  if (ns !== undefined) {
    if (ns.name !== undefined && ns.name !== 'team-a') return 'a namespace lookup miss';
    if (ns.labels?.[OPT_IN_LABEL] !== 'true') return 'a namespace that did not opt in';
    const annotations = Object.keys(ns.annotations ?? {});
    if (annotations.length > 0) return `namespace annotations (${annotations.join(', ')})`;
  }
  return undefined;
}

interface Case {
  /** Shown in the test title. */
  readonly title: string;
  /** File name in the CLI's input directory. */
  readonly file: string;
  /** Index of the document in that file. */
  readonly document: number;
  /** Name given to the pods made from the template. */
  readonly podName: string;
}

const fixtureCases: Case[] = [];
const skippedFixtures: { name: string; why: string }[] = [];
for (const name of readdirSync(fixturesDir).sort()) {
  const file = path.join(fixturesDir, name, 'input.yaml');
  if (!existsSync(file)) continue;
  const input = parse(readFileSync(file, 'utf8')) as FixtureInput;
  const why = whyNotDifferential(input);
  if (why === undefined) {
    fixtureCases.push({
      title: `fixture ${name}`,
      file: `fixture-${name}.yaml`,
      document: 0,
      podName: `fx-${name}`,
    });
  } else {
    skippedFixtures.push({ name, why });
  }
}

const WORKLOAD_TEMPLATE_PATHS: Record<string, readonly string[]> = {
  Pod: [],
  PodTemplate: ['template'],
  ReplicationController: ['spec', 'template'],
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

const workloadDocuments = parseAllDocuments(readFileSync(workloadsFile, 'utf8')).map((d) => d.toJS() as Json);
const workloadCases: Case[] = workloadDocuments.map((object, document) => {
  const kind = object.kind as string;
  const name = (object.metadata as Json).name as string;
  return {
    title: `${kind} ${name}`,
    file: 'workloads.yaml',
    document,
    podName: `wl-${kind.toLowerCase()}-${name}`,
  };
});

function at(value: unknown, keys: readonly string[]): unknown {
  let node = value;
  for (const key of keys) node = (node as Json | undefined)?.[key];
  return node;
}

/** The pod the API server would get for a pod made from the template (or the Pod itself). */
function podOf(object: Json, podName: string): V1Pod {
  const template = at(object, WORKLOAD_TEMPLATE_PATHS[object.kind as string] ?? []) as Json;
  const metadata = structuredClone((template.metadata ?? {}) as Json);
  delete metadata.namespace;
  delete metadata.generateName;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { ...metadata, name: podName },
    spec: structuredClone(template.spec),
  } as V1Pod;
}

const TOKEN_VOLUME = /^kube-api-access-[a-z0-9]{5}$/;

interface Named {
  name: string;
}
type Spec = Json & {
  volumes?: Named[];
  containers?: (Named & { volumeMounts?: Named[] })[];
  initContainers?: (Named & { volumeMounts?: Named[] })[];
};

/**
 * What the comparison looks at: spec, labels, and annotations without our record. The service-account
 * token volume and its mounts, which the API server's ServiceAccount admission adds, are moved to a key
 * of their own with the random suffix of their name replaced: the plugin runs before webhooks, so the
 * webhook appends `/tmp` after the token mount while on the CLI's pod it comes before it, and only the
 * order differs. They are still compared, apart.
 */
function comparable(pod: V1Pod): Json {
  // Through JSON: the client's model objects carry absent fields as undefined properties.
  const spec = JSON.parse(JSON.stringify(pod.spec ?? {})) as Spec;
  const token: Json = {};
  const apart = <T extends Named>(items: T[] | undefined, key: string): T[] | undefined => {
    if (items === undefined) return undefined;
    const found = items.filter((item) => TOKEN_VOLUME.test(item.name));
    if (found.length > 0) token[key] = found.map((item) => ({ ...item, name: 'kube-api-access-(random)' }));
    return items.filter((item) => !TOKEN_VOLUME.test(item.name));
  };
  spec.volumes = apart(spec.volumes, 'volumes');
  for (const [list, containers] of [
    ['containers', spec.containers],
    ['initContainers', spec.initContainers],
  ] as const) {
    for (const container of containers ?? []) {
      container.volumeMounts = apart(container.volumeMounts, `${list}/${container.name}`);
    }
  }
  const annotations = { ...(pod.metadata?.annotations ?? {}) };
  for (const key of RECORD_KEYS) Reflect.deleteProperty(annotations, key);
  return JSON.parse(
    JSON.stringify({ labels: pod.metadata?.labels ?? {}, annotations, spec, serviceAccountToken: token }),
  ) as Json;
}

/** Every path where two JSON values differ, with both values, for a failure message. */
function differences(a: unknown, b: unknown, at = ''): string[] {
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const keys =
      Array.isArray(a) && Array.isArray(b)
        ? [...Array(Math.max(a.length, b.length)).keys()].map(String)
        : [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((key) => differences((a as Json)[key], (b as Json)[key], `${at}/${key}`));
  }
  return [`${at || '/'}: CLI ${JSON.stringify(a)}, webhook ${JSON.stringify(b)}`];
}

type Outcome = { readonly pod: V1Pod } | { readonly refused: string };

async function dryRun(namespace: string, pod: V1Pod): Promise<Outcome> {
  try {
    return { pod: await e2e().cluster.core.createNamespacedPod({ namespace, body: pod, dryRun: 'All' }) };
  } catch (err) {
    const body = (err as { body?: unknown }).body;
    return { refused: typeof body === 'string' ? body : String(err) };
  }
}

describe('e2e: differential, `pod-hardener harden` against the webhook on the API server', () => {
  let optedIn: string;
  let plain: string;
  let dir: string;
  const original = new Map<string, Json[]>();
  const hardened = new Map<string, Json[]>();

  before(async function () {
    this.timeout(120_000);
    const { cluster } = e2e();
    optedIn = await createNamespace(cluster, 'diff-in', { labels: { ...OPTED_IN } });
    plain = await createNamespace(cluster, 'diff-off');
    // The RuntimeClass the windows-runtime-class fixture names, with the nodeSelector that fixture
    // carries as merged: without it the API server refuses both pods.
    await cluster.kubectlOk(
      ['apply', '-f', '-'],
      stringify({
        apiVersion: 'node.k8s.io/v1',
        kind: 'RuntimeClass',
        metadata: { name: 'windows-2022' },
        handler: 'runhcs-wcow-process',
        scheduling: {
          nodeSelector: { 'kubernetes.io/os': 'windows', 'node.kubernetes.io/windows-build': '10.0.20348' },
        },
      }),
    );

    dir = mkdtempSync(path.join(os.tmpdir(), 'pod-hardener-differential-'));
    for (const c of fixtureCases) {
      const name = c.title.slice('fixture '.length);
      const input = parse(readFileSync(path.join(fixturesDir, name, 'input.yaml'), 'utf8')) as FixtureInput;
      const object = structuredClone(input.object);
      delete (object.metadata as Json | undefined)?.namespace;
      writeFileSync(path.join(dir, c.file), stringify(object));
    }
    writeFileSync(path.join(dir, 'workloads.yaml'), readFileSync(workloadsFile, 'utf8'));
    const files = [...new Set([...fixtureCases, ...workloadCases].map((c) => c.file))];
    for (const file of files) {
      original.set(
        file,
        parseAllDocuments(readFileSync(path.join(dir, file), 'utf8')).map((d) => d.toJS() as Json),
      );
    }

    const started = Date.now();
    const result = await runCli(['harden', '--in-place', '-n', optedIn, '.'], { cwd: dir });
    expect(result.code, result.stderr).to.equal(0);
    process.stderr.write(
      `      differential: harden --in-place of ${files.length} files in ${Date.now() - started} ms; ` +
        `fixtures skipped: ${skippedFixtures.map((s) => `${s.name} (${s.why})`).join('; ')}\n`,
    );
    for (const file of files) {
      hardened.set(
        file,
        parseAllDocuments(readFileSync(path.join(dir, file), 'utf8')).map((d) => d.toJS() as Json),
      );
    }
  });

  after(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('covers at least 30 golden fixtures and a workload of every kind the CLI hardens', () => {
    expect(fixtureCases.length).to.be.at.least(30);
    expect(new Set(workloadDocuments.map((o) => o.kind))).to.have.keys(Object.keys(WORKLOAD_TEMPLATE_PATHS));
  });

  for (const c of [...fixtureCases, ...workloadCases]) {
    it(`${c.title}: the CLI's pod equals the webhook's`, async () => {
      const raw = podOf(original.get(c.file)![c.document]!, c.podName);
      const offline = podOf(hardened.get(c.file)![c.document]!, c.podName);
      const [byWebhook, byCli] = await Promise.all([dryRun(optedIn, raw), dryRun(plain, offline)]);
      if ('refused' in byWebhook || 'refused' in byCli) {
        // A pod the API server refuses either way (its validation, not the hardening) is no difference.
        process.stderr.write(`      refused either way: ${c.title}\n`);
        expect('refused' in byWebhook, `webhook: ${JSON.stringify(byWebhook)}`).to.equal(true);
        expect('refused' in byCli, `CLI: ${JSON.stringify(byCli)}`).to.equal(true);
        return;
      }
      const found = differences(comparable(byCli.pod), comparable(byWebhook.pod));
      expect(found, found.join('\n')).to.deep.equal([]);
      // The webhook did run on the raw pod: it wrote its record whenever it changed something.
      const changed = JSON.stringify(raw.spec) !== JSON.stringify(offline.spec);
      if (changed) expect(byWebhook.pod.metadata?.annotations).to.have.property(RECORD_KEYS[0]!);
    });
  }
});
