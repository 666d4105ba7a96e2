import { expect } from 'chai';
import type { ReviewResult } from '../../src/engine/review/review.js';
import { createMetrics, operationLabel } from '../../src/metrics/index.js';

const patched: ReviewResult = {
  response: { uid: 'u', allowed: true, patchType: 'JSONPatch', patch: 'W10=' },
  outcome: 'patched',
  mode: 'enforce',
  changesByControl: { 'run-as-non-root': 2, 'default-resources': 1, 'seccomp-runtime-default': 0 },
  residualViolations: ['hostNamespaces'],
  refusedSkips: ['mirror-pod'],
  logFields: {},
};

const skipped: ReviewResult = {
  response: { uid: 'v', allowed: true },
  outcome: 'skipped',
  skipReason: 'not-a-pod',
  changesByControl: {},
  residualViolations: [],
  refusedSkips: [],
  logFields: {},
};

describe('metrics', () => {
  it('records a review: outcome, duration, changes per control, skips and residual violations', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    metrics.recordReview('CREATE', patched, 0.0004);
    metrics.recordReview('UPDATE', skipped, 0.0001);
    const text = await metrics.registry.metrics();
    expect(text).to.include('pod_hardener_admission_reviews_total{operation="CREATE",outcome="patched"} 1');
    expect(text).to.include('pod_hardener_admission_reviews_total{operation="UPDATE",outcome="skipped"} 1');
    expect(text).to.include(
      'pod_hardener_admission_review_duration_seconds_bucket{le="0.0005",outcome="patched"} 1',
    );
    expect(text).to.include('pod_hardener_changes_total{control="run-as-non-root"} 2');
    expect(text).to.include('pod_hardener_changes_total{control="default-resources"} 1');
    expect(text).not.to.include('control="seccomp-runtime-default"');
    expect(text).to.include('pod_hardener_skipped_reviews_total{reason="not-a-pod"} 1');
    expect(text).to.include('pod_hardener_residual_violations_total{check="hostNamespaces"} 1');
    expect(text).to.include('pod_hardener_refused_skips_total{reason="mirror-pod"} 1');
  });

  it('records bad requests and errors', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    metrics.recordFailure('bad_request', 'unknown', 0.001);
    metrics.recordFailure('error', 'CREATE', 0.002);
    const text = await metrics.registry.metrics();
    expect(text).to.include(
      'pod_hardener_admission_reviews_total{operation="unknown",outcome="bad_request"} 1',
    );
    expect(text).to.include('pod_hardener_admission_reviews_total{operation="CREATE",outcome="error"} 1');
    expect(text).to.include('pod_hardener_admission_review_duration_seconds_count{outcome="error"} 1');
  });

  it('exports the failure counters at zero before anything happens', async () => {
    const text = await createMetrics({ defaultMetrics: false }).registry.metrics();
    expect(text).to.include('pod_hardener_namespace_lookup_failures_total 0');
    expect(text).to.include('pod_hardener_tls_reloads_total{result="success"} 0');
    expect(text).to.include('pod_hardener_tls_reloads_total{result="failure"} 0');
  });

  it('gives every instance its own registry, process metrics included', async () => {
    const a = createMetrics();
    const b = createMetrics();
    a.recordFailure('error', 'CREATE', 0.1);
    expect(await a.registry.metrics()).to.include('outcome="error"} 1');
    expect(await b.registry.metrics()).not.to.include('outcome="error"');
    expect(await b.registry.metrics()).to.include('process_cpu_user_seconds_total');
  });

  it('bounds the operation label', () => {
    expect(operationLabel('CREATE')).to.equal('CREATE');
    expect(operationLabel('CONNECT')).to.equal('CONNECT');
    expect(operationLabel('create')).to.equal('other');
    expect(operationLabel('x'.repeat(1000))).to.equal('other');
    expect(operationLabel(undefined)).to.equal('other');
  });
});
