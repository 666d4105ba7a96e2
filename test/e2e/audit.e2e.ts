/**
 * `pod-hardener audit` against the suite's API server: a pod the suite's webhook hardened in an opted-in
 * namespace shows its recorded changes and its seal. `--apply` is covered by the unit tests only: the
 * PolicyReport CRD is installed by policy-report.e2e.ts, and this file does not depend on it.
 */
import { expect } from 'chai';
import { OPTED_IN, createNamespace, createPod } from './support/cluster.js';
import { runCli } from './support/cli.js';
import { e2e } from './support/context.js';
import { changesOf, plainPod } from './support/expect-pod.js';

interface AuditedPod {
  namespace: string;
  name: string;
  changes: Record<string, number>;
  totalChanges: number;
  sealed: boolean;
  sealVerified: boolean;
}

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
});
