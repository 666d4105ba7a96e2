import { expect } from 'chai';
import { parseAllDocuments } from 'yaml';
import { parseAuditArguments, runAudit, type AuditInvocation } from '../../src/cli/audit.js';
import type { StoredPod } from '../../src/audit/summarise.js';

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

async function run(invocation: AuditInvocation, pods = [hardened, plain]) {
  let stdout = '';
  let stderr = '';
  const asked: (string | undefined)[] = [];
  const applied: Record<string, unknown>[][] = [];
  const code = await runAudit(invocation, {
    list: (namespace) => {
      asked.push(namespace);
      return Promise.resolve(
        pods.filter((p) => namespace === undefined || p.metadata?.namespace === namespace),
      );
    },
    apply: (reports) => {
      applied.push([...reports]);
      return Promise.resolve();
    },
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    now: new Date(0),
  });
  return { code, stdout, stderr, asked, applied };
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
    expect(rules).to.include.members(['run-as-non-root:pass', 'read-only-root-filesystem:skip']);
    const applied = await run({ output: 'policyreport', apply: true });
    expect(applied.stdout).to.equal('');
    expect(applied.applied[0]).to.have.length(2);
    expect(applied.stderr).to.contain('applied 2 PolicyReport');
  });
});
