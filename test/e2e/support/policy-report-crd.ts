/**
 * The wgpolicyk8s.io v1alpha2 PolicyReport CRD (test/e2e/data/policy-report/), installed once per API
 * server for the tests that store PolicyReports (policy-report.e2e.ts, audit.e2e.ts). `kubectl apply`
 * is idempotent, so either test may run first or alone.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Cluster } from './cluster.js';

const CRD = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  'data',
  'policy-report',
  'wgpolicyk8s.io_policyreports.yaml',
);

const installed = new WeakSet<Cluster>();

export async function installPolicyReportCrd(cluster: Cluster): Promise<void> {
  if (installed.has(cluster)) return;
  await cluster.kubectlOk(['apply', '-f', CRD]);
  await cluster.kubectlOk([
    'wait',
    '--for=condition=Established',
    'crd/policyreports.wgpolicyk8s.io',
    '--timeout=60s',
  ]);
  installed.add(cluster);
}
