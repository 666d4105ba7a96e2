/**
 * One source of truth: the chart with default values (release pod-hardener in pod-hardener-system)
 * renders the same objects, field for field, as `kubectl kustomize manifests/base`. The differences
 * allowed are listed in `normalise` and nowhere else: Helm's labels (also in selectors, which carry the
 * release), the checksum annotation that rolls pods on a config change (kustomize hashes the ConfigMap's
 * name instead), and the Namespace, which Helm leaves to `--create-namespace`. The two config files are
 * compared as the server loads them, so a key the chart spells out with its default value is not a
 * difference, but any effective setting is.
 */
import path from 'node:path';
import { expect } from 'chai';
import { loadConfig, type Config } from '../../src/config/index.js';
import { renderKustomization, type Manifest } from './support/cluster.js';
import { e2e } from './support/context.js';
import { helmFor, renderChart } from './support/helm.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- rendered objects walked generically
type Any = any;

const HELM_LABELS = [
  'app.kubernetes.io/instance',
  'app.kubernetes.io/managed-by',
  'app.kubernetes.io/version',
  'helm.sh/chart',
];
const HELM_ANNOTATIONS = ['checksum/config'];
// kustomize's configMapGenerator suffix: pod-hardener-config-<hash>.
const GENERATED_NAME = /^(pod-hardener-config)-[a-z0-9]{10}$/;

function without(map: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(map).filter(([key]) => !keys.includes(key)));
}

/** Removes the allowed differences, in place, from anywhere in an object. */
function normalise(node: Any): Any {
  if (Array.isArray(node)) return node.map(normalise);
  if (node === null || typeof node !== 'object') {
    return typeof node === 'string' ? node.replace(GENERATED_NAME, '$1') : node;
  }
  const out: Any = {};
  for (const [key, value] of Object.entries(node)) out[key] = normalise(value);
  for (const key of ['labels', 'matchLabels', 'annotations'] as const) {
    if (out[key] === undefined) continue;
    out[key] = without(out[key], key === 'annotations' ? HELM_ANNOTATIONS : HELM_LABELS);
  }
  // A Service's selector is a plain label map.
  if (out.selector !== undefined && Object.values(out.selector).every((v) => typeof v === 'string')) {
    out.selector = without(out.selector, HELM_LABELS);
  }
  // A map left empty is the same as no map.
  return Object.fromEntries(
    Object.entries(out).filter(
      ([key, value]) =>
        !['labels', 'matchLabels', 'annotations'].includes(key) || Object.keys(value as object).length > 0,
    ),
  );
}

/** The configuration the server would run with, given a ConfigMap's config.yaml, in a pod. */
function effectiveConfig(configMap: Any): Config {
  return loadConfig({
    argvFlags: { config: '/etc/pod-hardener/config.yaml' },
    env: { POD_HARDENER_NAMESPACE: 'pod-hardener-system', KUBERNETES_SERVICE_HOST: '10.96.0.1' },
    readFile: () => String(configMap.data['config.yaml']),
    heapLimitBytes: 208 * 1024 * 1024,
  });
}

/** Every path where the chart's value differs from the base's, e.g. `Deployment/x.spec.replicas: 3 != 2`. */
function differences(chartValue: Any, baseValue: Any, at = ''): string[] {
  const bothObjects =
    chartValue !== null &&
    baseValue !== null &&
    typeof chartValue === 'object' &&
    typeof baseValue === 'object';
  if (!bothObjects || Array.isArray(chartValue) !== Array.isArray(baseValue)) {
    return JSON.stringify(chartValue) === JSON.stringify(baseValue)
      ? []
      : [`${at}: chart ${JSON.stringify(chartValue)} != base ${JSON.stringify(baseValue)}`];
  }
  const keys = new Set([...Object.keys(chartValue), ...Object.keys(baseValue)]);
  return [...keys].flatMap((key) =>
    differences(chartValue[key], baseValue[key], at === '' ? key : `${at}.${key}`),
  );
}

function byKey(manifests: readonly Manifest[]): Map<string, Any> {
  return new Map(
    manifests.map((m) => {
      const normalised = normalise(m);
      return [`${m.kind}/${String(normalised.metadata.name)}`, normalised];
    }),
  );
}

describe('e2e: Helm chart and kustomize base render the same objects', function () {
  let chart: Map<string, Any>;
  let base: Map<string, Any>;

  before(async function () {
    this.timeout(30 * 60_000);
    const { cluster, repoRoot } = e2e();
    const helm = helmFor(repoRoot);
    chart = byKey(await renderChart(helm));
    const kustomized = await renderKustomization(cluster, path.join(repoRoot, 'manifests/base'));
    expect(kustomized.map((m) => m.kind)).to.include('Namespace');
    base = byKey(kustomized.filter((m) => m.kind !== 'Namespace'));
  });

  it('the same set of objects', () => {
    expect([...chart.keys()].sort()).to.deep.equal([...base.keys()].sort());
  });

  it('the same configuration, as the server loads it', () => {
    const fromChart = effectiveConfig(chart.get('ConfigMap/pod-hardener-config'));
    const fromBase = effectiveConfig(base.get('ConfigMap/pod-hardener-config'));
    expect(fromChart).to.deep.equal({ ...fromBase, configFile: fromChart.configFile });
  });

  it('every other field equal', () => {
    // The ConfigMaps' data was compared above, as loaded.
    const withoutData = (objects: Map<string, Any>): Record<string, Any> =>
      Object.fromEntries(
        [...objects].map(([key, object]) => [
          key,
          object.kind === 'ConfigMap' ? { ...object, data: {} } : object,
        ]),
      );
    expect(differences(withoutData(chart), withoutData(base))).to.deep.equal([]);
  });
});
