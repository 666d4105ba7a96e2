/**
 * `pod-hardener audit` against the suite's API server: a pod the suite's webhook hardened in an opted-in
 * namespace shows its recorded changes and its seal; `--apply` stores one PolicyReport per namespace
 * (the wgpolicyk8s.io CRD installed by the shared helper), a second `--apply` updates it in place, and
 * a namespace whose pods are gone loses its stale report.
 */
import { expect } from 'chai';
import type { V1Pod } from '@kubernetes/client-node';
import { CONTROL_IDS } from '../../src/engine/index.js';
import { OPTED_IN, createNamespace, createPod, type Cluster } from './support/cluster.js';
import { runCli } from './support/cli.js';
import { e2e } from './support/context.js';
import { changesOf, plainPod } from './support/expect-pod.js';
import { installPolicyReportCrd } from './support/policy-report-crd.js';

interface AuditedPod {
  namespace: string;
  name: string;
  changes: Record<string, number>;
  totalChanges: number;
  sealed: boolean;
  sealVerified: boolean;
}

interface StoredResult {
  policy: string;
  rule: string;
  result: string;
  message: string;
  resources: { kind: string; name: string; namespace: string }[];
}

interface StoredReport {
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    resourceVersion: string;
    labels?: Record<string, string>;
    managedFields?: { manager: string; operation: string }[];
  };
  summary: Record<string, number>;
  results: StoredResult[];
}

/** A pod that already meets Pod Security "restricted" and every control: nothing to harden. */
function cleanPod(name: string): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: {
      // Everything hardening would set is already there, so the engine finds nothing to add.
      securityContext: {
        runAsNonRoot: true,
        runAsUser: 10001,
        runAsGroup: 10001,
        fsGroup: 10001,
        fsGroupChangePolicy: 'OnRootMismatch',
        seccompProfile: { type: 'RuntimeDefault' },
      },
      containers: [
        {
          name: 'app',
          image: 'registry.example/app:1',
          securityContext: {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ['ALL'] },
          },
          resources: {
            requests: { cpu: '100m', memory: '64Mi' },
            limits: { cpu: '500m', memory: '128Mi' },
          },
          volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
        },
      ],
      volumes: [{ name: 'tmp', emptyDir: {} }],
    },
  };
}

async function auditApply(cluster: Cluster, namespace?: string): Promise<void> {
  const run = await runCli([
    'audit',
    '--kubeconfig',
    cluster.kubeconfigPath,
    ...(namespace === undefined ? [] : ['-n', namespace]),
    '--output',
    'policyreport',
    '--apply',
  ]);
  expect(run.code, run.stderr).to.equal(0);
}

async function reportsIn(cluster: Cluster, namespace: string): Promise<StoredReport[]> {
  const listed = JSON.parse(
    await cluster.kubectlOk([
      'get',
      'policyreports.wgpolicyk8s.io',
      '-n',
      namespace,
      '-o',
      'json',
      '--show-managed-fields',
    ]),
  ) as { items: StoredReport[] };
  return listed.items;
}

async function onlyReport(cluster: Cluster, namespace: string): Promise<StoredReport> {
  const reports = await reportsIn(cluster, namespace);
  expect(
    reports.map((r) => r.metadata.name),
    `one PolicyReport in ${namespace}`,
  ).to.deep.equal(['pod-hardener']);
  return reports[0]!;
}

/** The pods a report's results name, each with the rules reported for it. */
function rulesByPod(report: StoredReport): Map<string, string[]> {
  const byPod = new Map<string, string[]>();
  for (const r of report.results) {
    expect(r.resources, 'one resource per result').to.have.length(1);
    const [resource] = r.resources;
    expect(resource).to.include({ kind: 'Pod', namespace: report.metadata.namespace });
    const rules = byPod.get(resource!.name) ?? [];
    rules.push(`${r.policy}/${r.rule}`);
    byPod.set(resource!.name, rules);
  }
  return byPod;
}

function resultOf(report: StoredReport, pod: string, rule: string): StoredResult {
  const found = report.results.filter(
    (r) => r.resources[0]?.name === pod && r.policy === 'pod-hardener' && r.rule === rule,
  );
  expect(found, `${pod} ${rule}`).to.have.length(1);
  return found[0]!;
}

function expectSummaryOfResults(report: StoredReport): void {
  const counted: Record<string, number> = { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 };
  for (const r of report.results) counted[r.result] = (counted[r.result] ?? 0) + 1;
  expect(report.summary).to.deep.equal(counted);
}

const CONTROL_RULES = CONTROL_IDS.map((id) => `pod-hardener/${id}`);

describe('e2e: pod-hardener audit against the API server', () => {
  it('lists a hardened pod of an opted-in namespace with its recorded changes', async function () {
    this.timeout(60_000);
    const { cluster } = e2e();
    const namespace = await createNamespace(cluster, 'audit', { labels: { ...OPTED_IN } });
    const created = await createPod(cluster, namespace, plainPod('audited'));
    const recorded = changesOf(created);
    expect(recorded, 'the webhook hardened the pod').to.not.be.empty;

    const run = await runCli([
      'audit',
      '--kubeconfig',
      cluster.kubeconfigPath,
      '-n',
      namespace,
      '--output',
      'json',
    ]);
    expect(run.code, run.stderr).to.equal(0);
    const { pods } = JSON.parse(run.stdout) as { pods: AuditedPod[] };
    expect(pods).to.have.length(1);
    const [pod] = pods as [AuditedPod];
    expect(pod).to.include({ namespace, name: created.metadata?.name, sealed: true, sealVerified: false });
    expect(pod.totalChanges).to.equal(recorded.length);
    const byControl: Record<string, number> = {};
    for (const change of recorded) byControl[change.control] = (byControl[change.control] ?? 0) + 1;
    expect(pod.changes).to.deep.equal(byControl);
  });

  describe('--apply', () => {
    let hardenedNs: string;
    let cleanNs: string;
    let hardened: string;
    let optedOut: string;
    let clean: string;

    before(async function () {
      this.timeout(120_000);
      const { cluster } = e2e();
      await installPolicyReportCrd(cluster);
      hardenedNs = await createNamespace(cluster, 'audit-apply', { labels: { ...OPTED_IN } });
      cleanNs = await createNamespace(cluster, 'audit-clean');
      hardened = (await createPod(cluster, hardenedNs, plainPod('hardened'))).metadata!.name!;
      const opting = plainPod('opted-out');
      opting.metadata!.annotations = { 'pod-hardener.io/skip-controls': 'read-only-root-filesystem' };
      optedOut = (await createPod(cluster, hardenedNs, opting)).metadata!.name!;
      clean = (await createPod(cluster, cleanNs, cleanPod('clean'))).metadata!.name!;
    });

    it('stores one PolicyReport per namespace with a result per pod and control', async function () {
      this.timeout(60_000);
      const { cluster } = e2e();
      await auditApply(cluster);

      const report = await onlyReport(cluster, hardenedNs);
      expect(report.metadata.labels).to.deep.equal({
        'app.kubernetes.io/managed-by': 'pod-hardener',
        'app.kubernetes.io/component': 'audit',
      });
      expectSummaryOfResults(report);
      const byPod = rulesByPod(report);
      expect([...byPod.keys()].sort()).to.deep.equal([hardened, optedOut].sort());
      for (const pod of [hardened, optedOut]) {
        expect(
          byPod.get(pod)!.filter((rule) => rule.startsWith('pod-hardener/')),
          `${pod}: a result per control`,
        ).to.have.members(CONTROL_RULES);
      }
      expect(resultOf(report, hardened, 'run-as-non-root').result).to.equal('pass');
      expect(resultOf(report, hardened, 'run-as-non-root').message).to.match(/hardened at admission/);
      // The engine, run on the pod as the API server stored it (defaults and all), finds nothing left.
      for (const control of CONTROL_IDS) {
        expect(resultOf(report, hardened, control).result, control).to.equal('pass');
      }
      const skipped = resultOf(report, optedOut, 'read-only-root-filesystem');
      expect(skipped.result).to.equal('skip');
      expect(skipped.message).to.contain('read-only-root-filesystem');
    });

    it('gives a namespace whose pods are all clean a report that passes every control', async function () {
      this.timeout(60_000);
      const { cluster } = e2e();
      const report = await onlyReport(cluster, cleanNs);
      expect(report.summary).to.deep.equal({
        pass: CONTROL_IDS.length,
        fail: 0,
        warn: 0,
        error: 0,
        skip: 0,
      });
      expect(rulesByPod(report).get(clean)).to.have.members(CONTROL_RULES);
    });

    it('updates the reports on a second --apply rather than adding to them', async function () {
      this.timeout(60_000);
      const { cluster } = e2e();
      const before = await onlyReport(cluster, hardenedNs);
      await cluster.core.deleteNamespacedPod({
        namespace: hardenedNs,
        name: optedOut,
        gracePeriodSeconds: 0,
      });
      await auditApply(cluster, hardenedNs);

      const after = await onlyReport(cluster, hardenedNs);
      expect(after.metadata.uid, 'the same object').to.equal(before.metadata.uid);
      expect(after.metadata.resourceVersion).to.not.equal(before.metadata.resourceVersion);
      expect([...rulesByPod(after).keys()], 'the deleted pod is gone').to.deep.equal([hardened]);
      expect(after.results.filter((r) => r.policy === 'pod-hardener')).to.have.length(CONTROL_IDS.length);
      expectSummaryOfResults(after);
      const managers = (after.metadata.managedFields ?? []).map((m) => `${m.manager}/${m.operation}`);
      expect(managers).to.deep.equal(['pod-hardener/Apply']);
    });

    it('removes the report of a namespace that no longer has pods', async function () {
      this.timeout(60_000);
      const { cluster } = e2e();
      await cluster.core.deleteNamespacedPod({ namespace: cleanNs, name: clean, gracePeriodSeconds: 0 });
      await auditApply(cluster, cleanNs);
      expect(await reportsIn(cluster, cleanNs), 'no stale report').to.be.empty;
      // The other namespace's report is outside -n, so it stays.
      await onlyReport(cluster, hardenedNs);
    });
  });
});
