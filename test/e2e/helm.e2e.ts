/**
 * The Helm chart (charts/pod-hardener) under a real helm v4: `helm lint --strict` and `helm template`
 * over a matrix of values with assertions on the rendered objects, values the schema must refuse,
 * `helm package`, the default rendering accepted by the API server (server-side dry-run), and the one
 * source of truth: with default values the chart renders what `kubectl kustomize manifests/base` does.
 * Installing it on a node is test/e2e/node/helm.e2e.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { Manifest } from './support/cluster.js';
import { e2e } from './support/context.js';
import { CHART, helmFor, renderChart, valueArgs, type Helm } from './support/helm.js';
import { applyManifests } from './support/webhook.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- rendered objects read field by field
type Any = any;

const RELEASE = { name: 'pod-hardener', namespace: 'pod-hardener-system' };

function find(manifests: readonly Manifest[], kind: string, name?: string): Any {
  return manifests.find((m) => m.kind === kind && (name === undefined || m.metadata.name === name));
}

function kinds(manifests: readonly Manifest[]): string[] {
  return manifests.map((m) => `${m.kind}/${m.metadata.name}`).sort();
}

function configOf(manifests: readonly Manifest[]): string {
  return String(find(manifests, 'ConfigMap')?.data?.['config.yaml']);
}

/** Every pod_hardener_* metric the server registers, from src/metrics. */
function registeredMetrics(repoRoot: string): Set<string> {
  const dir = path.join(repoRoot, 'src/metrics');
  const names = readdirSync(dir).flatMap((file) =>
    [...readFileSync(path.join(dir, file), 'utf8').matchAll(/name: '(pod_hardener_[a-z_]+)'/g)].map(
      (match) => match[1]!,
    ),
  );
  return new Set(names);
}

/** The pod_hardener_* series a PromQL text uses, with histogram suffixes mapped to the metric. */
function metricsIn(promql: string): string[] {
  return [...promql.matchAll(/pod_hardener_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, ''));
}

describe('e2e: Helm chart', function () {
  let helm: Helm;

  before(function () {
    this.timeout(30 * 60_000);
    helm = helmFor(e2e().repoRoot);
  });

  const lintAndRender = async (values: Record<string, unknown>): Promise<Manifest[]> => {
    const lint = await helm.run(['lint', '--strict', CHART, ...valueArgs(values)]);
    expect(lint.code, `helm lint --strict:\n${lint.stdout}${lint.stderr}`).to.equal(0);
    return renderChart(helm, values);
  };

  it('defaults: self-managed TLS, failurePolicy Fail, its RBAC, no monitoring or NetworkPolicy objects', async () => {
    const manifests = await lintAndRender({});
    expect(kinds(manifests)).to.deep.equal([
      'ClusterRole/pod-hardener',
      'ClusterRoleBinding/pod-hardener',
      'ConfigMap/pod-hardener-config',
      'Deployment/pod-hardener',
      'MutatingWebhookConfiguration/pod-hardener',
      'PodDisruptionBudget/pod-hardener',
      'Role/pod-hardener',
      'RoleBinding/pod-hardener',
      'Service/pod-hardener',
      'ServiceAccount/pod-hardener',
    ]);
    const webhook = find(manifests, 'MutatingWebhookConfiguration').webhooks[0];
    expect(webhook.failurePolicy).to.equal('Fail');
    expect(webhook.clientConfig).to.not.have.property('caBundle');
    expect(configOf(manifests)).to.contain('tlsMode: self-managed');
  });

  it('a release under another name and namespace: every name, exclusion and RBAC reference follows', async () => {
    const manifests = await renderChart(helm, {}, { name: 'edge', namespace: 'security' });
    const webhook = find(manifests, 'MutatingWebhookConfiguration', 'edge-pod-hardener').webhooks[0];
    expect(webhook.clientConfig.service).to.include({ name: 'edge-pod-hardener', namespace: 'security' });
    expect(webhook.namespaceSelector.matchExpressions[1].values).to.deep.equal([
      'kube-system',
      'kube-node-lease',
      'security',
    ]);
    expect(find(manifests, 'ClusterRole').rules[1].resourceNames).to.deep.equal(['edge-pod-hardener']);
    expect(find(manifests, 'Role').rules[1].resourceNames).to.deep.equal(['edge-pod-hardener-tls']);
    expect(configOf(manifests)).to.contain('webhookConfigurationName: edge-pod-hardener');
    expect(configOf(manifests)).to.contain('tlsServiceName: edge-pod-hardener');
    expect(configOf(manifests)).to.contain('tlsSecretName: edge-pod-hardener-tls');
  });

  it('cert-manager with its own CA: Issuers, Certificates, the CA injected, files mode, no Secret RBAC', async () => {
    const manifests = await lintAndRender({ tls: { mode: 'cert-manager' } });
    expect(manifests.filter((m) => m.kind === 'Issuer').map((m) => m.metadata.name)).to.have.members([
      'pod-hardener-selfsigned',
      'pod-hardener-ca',
    ]);
    const serving = find(manifests, 'Certificate', 'pod-hardener');
    expect(serving.spec.secretName).to.equal('pod-hardener-tls');
    expect(serving.spec.dnsNames).to.include('pod-hardener.pod-hardener-system.svc');
    expect(serving.spec.issuerRef).to.deep.equal({
      group: 'cert-manager.io',
      kind: 'Issuer',
      name: 'pod-hardener-ca',
    });
    const configuration = find(manifests, 'MutatingWebhookConfiguration');
    expect(configuration.metadata.annotations['cert-manager.io/inject-ca-from']).to.equal(
      'pod-hardener-system/pod-hardener',
    );
    expect(configOf(manifests)).to.contain('tlsMode: files');
    const pod = find(manifests, 'Deployment').spec.template.spec;
    expect(pod.volumes.find((v: Any) => v.name === 'tls').secret.secretName).to.equal('pod-hardener-tls');
    expect(find(manifests, 'Role')).to.be.undefined;
    expect(find(manifests, 'ClusterRole').rules).to.have.length(1);
  });

  it('cert-manager with an existing ClusterIssuer: only the serving Certificate', async () => {
    const manifests = await lintAndRender({
      tls: {
        mode: 'cert-manager',
        certManager: { createIssuer: false, issuerRef: { name: 'corp-ca', kind: 'ClusterIssuer' } },
      },
    });
    expect(manifests.filter((m) => m.kind === 'Issuer')).to.be.empty;
    expect(manifests.filter((m) => m.kind === 'Certificate')).to.have.length(1);
    expect(find(manifests, 'Certificate').spec.issuerRef).to.deep.equal({
      group: 'cert-manager.io',
      kind: 'ClusterIssuer',
      name: 'corp-ca',
    });
  });

  it('an existing Secret: its caBundle rendered, the Secret mounted, no cert-manager objects', async () => {
    const caBundle = Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n').toString(
      'base64',
    );
    const manifests = await lintAndRender({ tls: { mode: 'secret', secretName: 'corp-tls', caBundle } });
    expect(find(manifests, 'MutatingWebhookConfiguration').webhooks[0].clientConfig.caBundle).to.equal(
      caBundle,
    );
    const pod = find(manifests, 'Deployment').spec.template.spec;
    expect(pod.volumes.find((v: Any) => v.name === 'tls').secret.secretName).to.equal('corp-tls');
    expect(configOf(manifests)).to.contain('tlsCertFile: /etc/pod-hardener/tls/tls.crt');
    expect(manifests.filter((m) => String(m.apiVersion).startsWith('cert-manager.io/'))).to.be.empty;
    expect(find(manifests, 'Role')).to.be.undefined;
  });

  for (const policy of ['Fail', 'Ignore'] as const) {
    it(`failurePolicy ${policy}`, async () => {
      const manifests = await lintAndRender({ webhook: { failurePolicy: policy } });
      expect(find(manifests, 'MutatingWebhookConfiguration').webhooks[0].failurePolicy).to.equal(policy);
    });
  }

  it('monitoring on: ServiceMonitor over HTTPS, five alerts and a dashboard on metrics the server registers', async () => {
    const manifests = await lintAndRender({
      metrics: {
        serviceMonitor: { enabled: true },
        prometheusRule: { enabled: true },
        dashboard: { enabled: true },
      },
    });
    const monitor = find(manifests, 'ServiceMonitor');
    expect(monitor.spec.endpoints[0]).to.include({ port: 'https', scheme: 'https', path: '/metrics' });
    expect(monitor.spec.endpoints[0].tlsConfig.ca.secret).to.deep.equal({
      name: 'pod-hardener-tls',
      key: 'ca.crt',
    });
    const rules = find(manifests, 'PrometheusRule').spec.groups[0].rules as { alert: string; expr: string }[];
    expect(rules.map((r) => r.alert)).to.deep.equal([
      'PodHardenerDown',
      'PodHardenerErrorRate',
      'PodHardenerLatencyNearTimeout',
      'PodHardenerCertificateExpiring',
      'PodHardenerNamespaceLookupsFailing',
    ]);
    expect(rules.find((r) => r.alert === 'PodHardenerLatencyNearTimeout')!.expr).to.match(/> 2\.5$/);
    const known = registeredMetrics(e2e().repoRoot);
    const dashboard = JSON.parse(
      find(manifests, 'ConfigMap', 'pod-hardener-dashboard').data['pod-hardener.json'],
    ) as {
      panels: { targets: { expr: string }[] }[];
    };
    const used = [
      ...rules.map((r) => r.expr),
      ...dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)),
    ];
    const metrics = used.flatMap(metricsIn);
    expect(metrics.length).to.be.greaterThan(8);
    for (const metric of metrics) expect(known, `${metric} is registered in src/metrics`).to.include(metric);
  });

  it('monitoring off (default): no ServiceMonitor, PrometheusRule or dashboard', async () => {
    const manifests = await renderChart(helm);
    expect(manifests.map((m) => m.kind)).to.not.include.members(['ServiceMonitor', 'PrometheusRule']);
    expect(find(manifests, 'ConfigMap', 'pod-hardener-dashboard')).to.be.undefined;
  });

  it('NetworkPolicy on: the webhook port only from the API server, egress only to it', async () => {
    const manifests = await lintAndRender({
      networkPolicy: {
        enabled: true,
        apiServerIngressFrom: [{ ipBlock: { cidr: '10.0.0.10/32' } }],
        apiServerEgressTo: [{ ipBlock: { cidr: '10.0.0.10/32' } }],
      },
    });
    const policy = find(manifests, 'NetworkPolicy').spec;
    expect(policy.podSelector.matchLabels).to.deep.equal({
      'app.kubernetes.io/name': 'pod-hardener',
      'app.kubernetes.io/instance': 'pod-hardener',
    });
    expect(policy.policyTypes).to.deep.equal(['Ingress', 'Egress']);
    expect(policy.ingress).to.deep.equal([
      { from: [{ ipBlock: { cidr: '10.0.0.10/32' } }], ports: [{ port: 'https', protocol: 'TCP' }] },
    ]);
    expect(policy.egress).to.deep.equal([
      {
        to: [{ ipBlock: { cidr: '10.0.0.10/32' } }],
        ports: [
          { port: 443, protocol: 'TCP' },
          { port: 6443, protocol: 'TCP' },
        ],
      },
    ]);
  });

  it('annotationPrefix and opted-out pods: the opt-in label and the matchCondition follow the prefix', async () => {
    const manifests = await lintAndRender({
      config: { annotationPrefix: 'hardening.example.com' },
      webhook: { skipOptedOutPods: true, annotations: { team: 'platform' } },
    });
    const configuration = find(manifests, 'MutatingWebhookConfiguration');
    expect(configuration.metadata.annotations).to.deep.equal({ team: 'platform' });
    const webhook = configuration.webhooks[0];
    expect(webhook.namespaceSelector.matchExpressions[0]).to.deep.equal({
      key: 'hardening.example.com/enabled',
      operator: 'In',
      values: ['true'],
    });
    expect(webhook.matchConditions[0].expression).to.contain(
      "object.metadata.annotations['hardening.example.com/skip'] != 'true'",
    );
    expect(configOf(manifests)).to.contain('annotationPrefix: hardening.example.com');
  });

  it("an operator's own namespaceSelector replaces the opt-in label but never the exclusion of kube-system and the release namespace (pitfall 15)", async () => {
    const selector = {
      matchLabels: { team: 'payments' },
      matchExpressions: [{ key: 'env', operator: 'In', values: ['prod'] }],
    };
    const manifests = await lintAndRender({ webhook: { namespaceSelector: selector } });
    const webhook = find(manifests, 'MutatingWebhookConfiguration').webhooks[0];
    expect(webhook.namespaceSelector).to.deep.equal({
      matchLabels: { team: 'payments' },
      matchExpressions: [
        { key: 'env', operator: 'In', values: ['prod'] },
        {
          key: 'kubernetes.io/metadata.name',
          operator: 'NotIn',
          values: ['kube-system', 'kube-node-lease', RELEASE.namespace],
        },
      ],
    });
  });

  for (const [what, values, message] of [
    [
      "a timeoutSeconds over the API server's limit of 30 (pitfall 16)",
      { webhook: { timeoutSeconds: 31 } },
      /timeoutSeconds/,
    ],
    ['an unknown failurePolicy', { webhook: { failurePolicy: 'Sometimes' } }, /failurePolicy/],
    ['a misspelt config key', { config: { logLevl: 'debug' } }, /logLevl/],
    ['a config key the chart sets', { config: { tlsMode: 'files' } }, /tlsMode/],
    ['a UID of 0 for hardened pods', { config: { runAsUser: 0 } }, /runAsUser/],
    [
      'an image profile with an unknown key',
      { config: { imageProfiles: [{ name: 'a', images: ['a'], user: 1 }] } },
      /user/,
    ],
    ['secret mode without a caBundle', { tls: { mode: 'secret', secretName: 'x' } }, /caBundle/],
    [
      'a NetworkPolicy without API server addresses',
      { networkPolicy: { enabled: true } },
      /apiServerIngressFrom/,
    ],
    ['replicas as a word', { replicas: 'two' }, /replicas/],
  ] as const) {
    it(`refuses ${what} with a message naming it`, async () => {
      const result = await helm.run(['template', 'pod-hardener', CHART, ...valueArgs(values)]);
      expect(result.code).to.not.equal(0);
      expect(result.stderr).to.match(message);
    });
  }

  it('helm package makes the chart archive', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'pod-hardener-package-'));
    try {
      const out = await helm.ok(['package', CHART, '--destination', dir]);
      expect(out).to.contain('pod-hardener-0.1.0.tgz');
      expect(readdirSync(dir)).to.deep.equal(['pod-hardener-0.1.0.tgz']);
      const fromArchive = await helm.ok([
        'template',
        'pod-hardener',
        path.join(dir, 'pod-hardener-0.1.0.tgz'),
      ]);
      expect(fromArchive).to.contain('kind: MutatingWebhookConfiguration');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('the default rendering passes kubectl apply --dry-run=server', async () => {
    const manifests = await renderChart(helm, {}, RELEASE);
    const result = await applyManifests(e2e().cluster, manifests, ['--dry-run=server']);
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stderr).to.not.match(/violate PodSecurity/);
  });
});
