import { expect } from 'chai';
import { parseAllDocuments } from 'yaml';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseAuditArguments, runAudit, type AuditInvocation } from '../../src/cli/audit.js';
import { engineSettingsFrom } from '../../src/cli/config-file.js';
import type { StoredPod } from '../../src/audit/summarise.js';
import type { EngineSettings } from '../../src/engine/index.js';
import { InputError } from '../../src/offline/input-error.js';
import jsonPatch, { type Operation } from 'fast-json-patch';
import {
  CONTROL_IDS,
  DEFAULT_ENGINE_SETTINGS,
  LOOKUPS_OFF,
  parseAdmissionReview,
  reviewAdmission,
} from '../../src/engine/index.js';
import { admissionReview } from '../support/admission-review.js';

const hardened: StoredPod = {
  metadata: {
    name: 'web',
    namespace: 'shop',
    annotations: {
      'pod-hardener.io/changes': JSON.stringify([
        {
          control: 'run-as-non-root',
          target: 'web',
          path: '/spec/containers/0/securityContext/runAsNonRoot',
          value: true,
        },
        {
          control: 'run-as-non-root',
          target: 'pod',
          path: '/spec/securityContext/runAsNonRoot',
          value: true,
        },
        {
          control: 'drop-all-capabilities',
          target: 'web',
          path: '/spec/containers/0/securityContext/capabilities',
          value: { drop: ['ALL'] },
        },
      ]),
      'pod-hardener.io/changes-seal': 'v1.1.abc',
      'pod-hardener.io/opt-outs': 'web/read-only-root-filesystem',
      'pod-hardener.io/skip-controls': 'web/read-only-root-filesystem',
    },
  },
  spec: { containers: [{ name: 'web', image: 'nginx', securityContext: { runAsNonRoot: true } }] },
};
const plain: StoredPod = {
  metadata: { name: 'legacy', namespace: 'apps', annotations: { 'pod-hardener.io/skip': 'true' } },
  spec: { hostNetwork: true, containers: [{ name: 'c', image: 'busybox' }] },
};

async function run(
  invocation: AuditInvocation,
  pods = [hardened, plain],
  stored: string[] = [],
  settings?: EngineSettings,
) {
  let stdout = '';
  let stderr = '';
  const asked: (string | undefined)[] = [];
  const applied: Record<string, unknown>[][] = [];
  const removed: string[] = [];
  const inCluster = new Set(stored);
  const code = await runAudit(invocation, {
    list: (namespace) => {
      asked.push(namespace);
      return Promise.resolve(
        pods.filter((p) => namespace === undefined || p.metadata?.namespace === namespace),
      );
    },
    reports: {
      apply: (reports) => {
        applied.push([...reports]);
        for (const r of reports) inCluster.add((r.metadata as { namespace: string }).namespace);
        return Promise.resolve();
      },
      namespacesWithReports: (namespace) =>
        Promise.resolve([...inCluster].filter((ns) => namespace === undefined || ns === namespace)),
      remove: (namespace) => {
        removed.push(namespace);
        inCluster.delete(namespace);
        return Promise.resolve();
      },
    },
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    now: new Date(0),
    ...(settings === undefined ? {} : { settings }),
  });
  return { code, stdout, stderr, asked, applied, removed };
}

describe('pod-hardener audit', () => {
  it('parses its options and refuses --apply without policyreport', () => {
    expect(parseAuditArguments(['-n', 'x', '--output', 'json'])).to.deep.equal({
      kind: 'audit',
      invocation: { output: 'json', apply: false, namespace: 'x' },
    });
    expect(parseAuditArguments(['--apply']).kind).to.equal('misuse');
    expect(parseAuditArguments(['-o', 'yaml']).kind).to.equal('misuse');
    expect(parseAuditArguments(['--help']).kind).to.equal('help');
    expect(parseAuditArguments(['--config', 'c.yaml'])).to.deep.equal({
      kind: 'audit',
      invocation: { output: 'table', apply: false, config: 'c.yaml' },
    });
  });

  it('--config: reads the annotations of its prefix and reports disabled controls as skipped', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'audit-config-'));
    try {
      writeFileSync(
        path.join(dir, 'config.yaml'),
        'annotationPrefix: hardener.example.com\ndisabledControls: [default-resources]\n',
      );
      const settings = await engineSettingsFrom('config.yaml', dir);
      const renamed = (pod: StoredPod): StoredPod => ({
        ...pod,
        metadata: {
          ...pod.metadata,
          annotations: Object.fromEntries(
            Object.entries(pod.metadata?.annotations ?? {}).map(([k, v]) => [
              k.replace('pod-hardener.io/', 'hardener.example.com/'),
              v,
            ]),
          ),
        },
      });
      const { stdout } = await run(
        { output: 'policyreport', apply: false },
        [renamed(hardened)],
        [],
        settings,
      );
      const [report] = parseAllDocuments(stdout).map(
        (d) => d.toJS() as { results: { rule: string; result: string; message: string }[] },
      );
      const byRule = new Map(report?.results.map((r) => [r.rule, r]));
      // The record says two fields were set, and the stored spec lacks others hardening would set.
      expect(byRule.get('run-as-non-root')?.result).to.equal('fail');
      expect(byRule.get('run-as-non-root')?.message).to.match(
        /^hardened at admission: 2 field\(s\) set, but [0-9]+ field\(s\) would be set by hardening now$/,
      );
      expect(byRule.get('read-only-root-filesystem')?.result).to.equal('skip');
      expect(byRule.get('default-resources')).to.include({
        result: 'skip',
        message: 'disabled in the configuration',
      });

      // The default prefix no longer matches: nothing recorded under it.
      const json = await run({ output: 'json', apply: false }, [hardened], [], settings);
      const [pod] = (JSON.parse(json.stdout) as { pods: { totalChanges: number; sealed: boolean }[] }).pods;
      expect(pod).to.include({ totalChanges: 0, sealed: false });

      writeFileSync(path.join(dir, 'bad.yaml'), 'annotationPrefix: 42\nnoSuchKey: 1\n');
      const failed = await engineSettingsFrom('bad.yaml', dir).catch((err: unknown) => err);
      expect(failed).to.be.instanceOf(InputError);
      expect((failed as Error).message).to.match(/^bad\.yaml: .*noSuchKey/s);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports a control an image profile kept off a container as skipped', async () => {
    const profiled: StoredPod = {
      metadata: {
        name: 'db',
        namespace: 'data',
        annotations: {
          'pod-hardener.io/changes': JSON.stringify([
            {
              control: 'read-only-root-filesystem',
              target: 'db',
              skipped: 'writes to /var',
              profile: 'postgres',
            },
          ]),
        },
      },
      spec: { containers: [{ name: 'db', image: 'postgres:16' }] },
    };
    const { stdout } = await run({ output: 'policyreport', apply: false }, [profiled]);
    const [report] = parseAllDocuments(stdout).map(
      (d) => d.toJS() as { results: { rule: string; result: string; message: string }[] },
    );
    expect(report?.results.find((r) => r.rule === 'read-only-root-filesystem')).to.include({
      result: 'skip',
      message: 'kept off by an image profile: db/read-only-root-filesystem',
    });
  });

  it('reports changes by control, the seal (unverified), opt-outs and residual violations as JSON', async () => {
    const { code, stdout, asked } = await run({ output: 'json', apply: false });
    expect(code).to.equal(0);
    expect(asked).to.deep.equal([undefined]);
    const { pods } = JSON.parse(stdout) as { pods: Record<string, unknown>[] };
    expect(pods.map((p) => p.name)).to.deep.equal(['legacy', 'web']);
    const [legacy, web] = pods as [Record<string, unknown>, Record<string, unknown>];
    expect(web).to.include({ namespace: 'shop', totalChanges: 3, sealed: true, sealVerified: false });
    expect(web.changes).to.deep.equal({ 'run-as-non-root': 2, 'drop-all-capabilities': 1 });
    expect(web.optOuts).to.deep.equal(['web/read-only-root-filesystem']);
    expect(web.skipControls).to.equal('web/read-only-root-filesystem');
    expect(legacy).to.include({ totalChanges: 0, sealed: false, skip: 'true' });
    expect((legacy.violations as { check: string }[]).map((v) => v.check)).to.include('host-namespaces');
  });

  it('tells a pod the webhook hardened from one it never saw, by running the engine on the stored pod', async () => {
    const spec = { containers: [{ name: 'app', image: 'registry.example/app:1' }] };
    const review = admissionReview(
      { metadata: { name: 'app', namespace: 'shop' }, spec },
      { namespace: 'shop' },
    );
    const parsed = parseAdmissionReview(review);
    if ('error' in parsed) throw new Error(parsed.error);
    const result = await reviewAdmission(parsed.review, {
      settings: DEFAULT_ENGINE_SETTINGS,
      namespaces: LOOKUPS_OFF,
    });
    const patch = JSON.parse(Buffer.from(result.response.patch ?? '', 'base64').toString()) as Operation[];
    const admitted = jsonPatch.applyPatch(structuredClone(review.request.object), patch, false, false)
      .newDocument as StoredPod;
    const untouched: StoredPod = { metadata: { name: 'old', namespace: 'legacy' }, spec };

    const { stdout } = await run({ output: 'policyreport', apply: false }, [admitted, untouched]);
    const results = parseAllDocuments(stdout).flatMap(
      (d) =>
        (
          d.toJS() as {
            results: { rule: string; result: string; message: string; resources: { name: string }[] }[];
          }
        ).results,
    );
    const controls = (pod: string) =>
      results.filter((r) => r.resources[0]?.name === pod && !r.rule.includes(':') && r.result !== 'warn');
    expect(controls('app')).to.have.length(CONTROL_IDS.length);
    expect(controls('app').map((r) => r.result)).to.deep.equal(controls('app').map(() => 'pass'));
    expect(controls('app').find((r) => r.rule === 'run-as-non-root')?.message).to.match(
      /^hardened at admission: [0-9]+ field\(s\) set$/,
    );
    const never = controls('old');
    expect(never).to.have.length(CONTROL_IDS.length);
    expect(never.map((r) => r.result)).to.deep.equal(never.map(() => 'fail'));
    expect(never.find((r) => r.rule === 'default-resources')?.message).to.match(
      /^not hardened: [0-9]+ field\(s\) would be set by hardening now$/,
    );

    const table = await run({ output: 'table', apply: false }, [admitted, untouched]);
    expect(table.stdout).to.match(/\bWOULD SET\b/);
    expect(table.stdout).to.match(/legacy\s+old\s+0\s+[1-9][0-9]* \(run-as-non-root=/);
  });

  it('reports the pods the webhook leaves alone as skipped, not as missing their defaults', async () => {
    const spec = { containers: [{ name: 'etcd', image: 'registry.k8s.io/etcd:3.6' }] };
    const mirror: StoredPod = {
      metadata: {
        name: 'etcd-node-1',
        namespace: 'kube-system',
        annotations: { 'kubernetes.io/config.mirror': 'abc' },
        ownerReferences: [{ kind: 'Node' }],
      },
      spec,
    };
    // The same annotation on a pod no Node owns is only a claim: the webhook hardens such a pod.
    const claimed: StoredPod = {
      ...mirror,
      metadata: { ...mirror.metadata, name: 'claims', ownerReferences: [] },
    };
    const { stdout } = await run({ output: 'json', apply: false }, [mirror, claimed]);
    const pods = (
      JSON.parse(stdout) as { pods: { name: string; leftAlone?: string; totalPending?: number }[] }
    ).pods;
    expect(pods.find((p) => p.name === 'etcd-node-1')).to.include({
      leftAlone: 'mirror-pod',
      totalPending: 0,
    });
    const claims = pods.find((p) => p.name === 'claims');
    expect(claims?.leftAlone).to.equal(undefined);
    expect(claims?.totalPending).to.be.greaterThan(0);

    const report = await run({ output: 'policyreport', apply: false }, [mirror]);
    const results = parseAllDocuments(report.stdout).flatMap(
      (d) => (d.toJS() as { results: { policy: string; result: string; message: string }[] }).results,
    );
    const controls = results.filter((r) => r.policy === 'pod-hardener');
    expect(controls).to.have.length(CONTROL_IDS.length);
    for (const r of controls) {
      expect(r).to.include({ result: 'skip', message: 'the webhook leaves this pod alone: mirror-pod' });
    }
  });

  it('lists one namespace as a table', async () => {
    const { stdout, asked } = await run({ output: 'table', apply: false, namespace: 'shop' });
    expect(asked).to.deep.equal(['shop']);
    expect(stdout).to.match(/^NAMESPACE\s+NAME\s+CHANGES/);
    expect(stdout).to.contain('shop       web   3 (run-as-non-root=2,drop-all-capabilities=1)');
    expect(stdout).to.contain('yes (unverified)');
  });

  it('writes one PolicyReport per namespace, or applies them', async () => {
    const { stdout } = await run({ output: 'policyreport', apply: false });
    const reports = parseAllDocuments(stdout).map(
      (d) => d.toJS() as { kind: string; metadata: { namespace: string }; results: unknown[] },
    );
    expect(reports.map((r) => r.metadata.namespace)).to.deep.equal(['apps', 'shop']);
    const shop = reports[1];
    if (shop === undefined) throw new Error('no report for shop');
    expect(shop.kind).to.equal('PolicyReport');
    const rules = (shop.results as { rule: string; result: string }[]).map((r) => `${r.rule}:${r.result}`);
    expect(rules).to.include.members(['run-as-non-root:fail', 'read-only-root-filesystem:skip']);
    const applied = await run({ output: 'policyreport', apply: true });
    expect(applied.stdout).to.equal('');
    expect(applied.applied[0]).to.have.length(2);
    expect(applied.stderr).to.contain('applied 2 PolicyReport');
    expect(applied.applied[0]?.[0]?.metadata).to.deep.include({
      labels: { 'app.kubernetes.io/managed-by': 'pod-hardener', 'app.kubernetes.io/component': 'audit' },
    });
    expect(applied.removed).to.deep.equal([]);
  });

  it('deletes its earlier report of a namespace in scope that has no pods any more', async () => {
    const all = await run({ output: 'policyreport', apply: true }, [hardened], ['apps', 'gone', 'shop']);
    expect(all.applied[0]?.map((r) => (r.metadata as { namespace: string }).namespace)).to.deep.equal([
      'shop',
    ]);
    expect(all.removed.sort()).to.deep.equal(['apps', 'gone']);
    expect(all.stderr).to.contain('deleted 2 of namespaces without pods (apps, gone)');

    // With -n, only that namespace is in scope: an empty one loses its report, others keep theirs.
    const one = await run(
      { output: 'policyreport', apply: true, namespace: 'apps' },
      [hardened],
      ['apps', 'shop'],
    );
    expect(one.applied[0]).to.deep.equal([]);
    expect(one.removed).to.deep.equal(['apps']);
  });
});
