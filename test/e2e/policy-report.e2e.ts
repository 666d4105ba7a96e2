/**
 * `pod-hardener harden --report policyreport` is accepted by the real API server with the
 * wgpolicyk8s.io PolicyReport CRD (v1alpha2, test/e2e/data/policy-report/) installed: applied with
 * kubectl (strict field validation, so an unknown field would be an error too) and stored whole. A
 * structurally wrong report is refused, so the CRD's schema is known to be in force.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { parseAllDocuments, stringify } from 'yaml';
import { createNamespace } from './support/cluster.js';
import { cliStdout } from './support/cli.js';
import { e2e } from './support/context.js';
import { installPolicyReportCrd } from './support/policy-report-crd.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const WORKLOADS = path.join(here, 'data', 'differential-workloads.yaml');

interface Report {
  metadata: { name: string; namespace: string };
  summary: Record<string, number>;
  results: Record<string, unknown>[];
}

describe('e2e: PolicyReports on the API server with the wgpolicyk8s.io CRD', () => {
  let namespace: string;
  let reportYaml: string;

  before(async function () {
    this.timeout(120_000);
    const { cluster } = e2e();
    await installPolicyReportCrd(cluster);
    namespace = await createNamespace(cluster, 'polr');
    reportYaml = await cliStdout(['harden', '--report', 'policyreport', '-n', namespace, WORKLOADS]);
  });

  it('accepts the report of workloads of every kind and stores every result unpruned', async () => {
    const { cluster } = e2e();
    const sent = parseAllDocuments(reportYaml).map((d) => d.toJS() as Report);
    expect(sent).to.have.length(1);
    const [report] = sent as [Report];
    expect(report.metadata.namespace).to.equal(namespace);
    expect(report.summary.fail, 'changes to report').to.be.above(0);
    expect(report.summary.skip, 'opt-outs to report').to.be.above(0);
    expect(report.summary.warn, 'residual violations to report').to.be.above(0);

    const applied = await cluster.kubectl(['apply', '-f', '-'], reportYaml);
    expect(applied.code, applied.stderr).to.equal(0);
    expect(applied.stderr, 'no warning about unknown or dropped fields').to.equal('');

    const stored = JSON.parse(
      await cluster.kubectlOk(['get', 'policyreport', report.metadata.name, '-n', namespace, '-o', 'json']),
    ) as Report;
    expect(stored.summary).to.deep.equal(report.summary);
    expect(stored.results).to.deep.equal(report.results);
  });

  it('refuses a structurally wrong report: an unknown result, a string count', async () => {
    const { cluster } = e2e();
    const [report] = parseAllDocuments(reportYaml).map((d) => d.toJS() as Report) as [Report];
    const broken = structuredClone(report);
    broken.metadata.name = 'broken';
    broken.results[0]!.result = 'maybe';
    (broken.summary as Record<string, unknown>).pass = 'many';
    const applied = await cluster.kubectl(['apply', '-f', '-'], stringify(broken));
    expect(applied.code).to.not.equal(0);
    expect(applied.stderr).to.contain('Unsupported value: "maybe"');
    expect(applied.stderr).to.match(/summary\.pass: Invalid value: "string"/);
    const listed = await cluster.kubectl(['get', 'policyreport', 'broken', '-n', namespace]);
    expect(listed.code, 'nothing stored').to.not.equal(0);
  });
});
