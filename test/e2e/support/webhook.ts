/**
 * Installs pod-hardener into the e2e control plane the way the manifests do, except that the webhook
 * process runs here, out of cluster, from this repository's build: the objects come from
 * `kubectl kustomize manifests/base`, the process authenticates with a token of the manifests' own
 * ServiceAccount (so their RBAC is what is tested), its configuration is the shipped ConfigMap's, and
 * only the webhook's clientConfig is switched from the Service to a loopback URL.
 */
import { writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { renderKustomization, type Cluster, type Manifest } from './cluster.js';
import { kubeconfigYaml, type ControlPlane } from './control-plane.js';
import { freePort, startProcess, waitFor, type ManagedProcess } from './processes.js';

export const WEBHOOK_NAMESPACE = 'pod-hardener-system';
export const WEBHOOK_CONFIGURATION = 'pod-hardener';
export const TLS_SECRET = 'pod-hardener-tls';

/** Objects the out-of-cluster webhook needs for real; the rest are only dry-run (scenario 12). */
const INSTALLED_KINDS = new Set([
  'Namespace',
  'ServiceAccount',
  'ClusterRole',
  'ClusterRoleBinding',
  'Role',
  'RoleBinding',
  'ConfigMap',
  'MutatingWebhookConfiguration',
]);

export interface WebhookUnderTest {
  readonly url: string;
  readonly configFile: string;
  readonly process: () => ManagedProcess;
  /** The MutatingWebhookConfiguration as installed (rendered, URL switched). */
  readonly configuration: Manifest;
  start(): Promise<void>;
  stop(): Promise<void>;
}

interface WebhookClientConfig {
  url?: string;
  service?: unknown;
  caBundle?: string;
}

/** Points every webhook of a rendered MutatingWebhookConfiguration at `url`, keeping everything else. */
export function pointAt(configuration: Manifest, url: string): Manifest {
  const copy = structuredClone(configuration);
  const webhooks = (copy.webhooks ?? []) as { clientConfig: WebhookClientConfig }[];
  for (const webhook of webhooks) {
    webhook.clientConfig = { url };
  }
  return copy;
}

function getStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = https.get(url, { rejectUnauthorized: false, timeout: 2000 }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('timeout', () => request.destroy(new Error('timed out')));
    request.on('error', reject);
  });
}

export async function applyManifests(
  cluster: Cluster,
  manifests: readonly Manifest[],
  extra: readonly string[] = [],
) {
  const body = manifests.map((manifest) => stringify(manifest)).join('---\n');
  return cluster.kubectl(['apply', '-f', '-', ...extra], body);
}

export async function installWebhook(
  cluster: Cluster,
  controlPlane: ControlPlane,
  options: { readonly repoRoot: string; readonly configOverrides?: Record<string, unknown> },
): Promise<WebhookUnderTest> {
  const rendered = await renderKustomization(cluster, path.join(options.repoRoot, 'manifests/base'));
  const port = await freePort();
  const url = `https://127.0.0.1:${port}/mutate`;
  const configuration = rendered.find((manifest) => manifest.kind === 'MutatingWebhookConfiguration');
  if (configuration === undefined) throw new Error('manifests/base renders no MutatingWebhookConfiguration');
  const installed = rendered
    .filter((manifest) => INSTALLED_KINDS.has(manifest.kind))
    .map((manifest) => (manifest === configuration ? pointAt(configuration, url) : manifest));
  // Namespaces first, so the namespaced objects in the same apply find theirs.
  const namespaces = installed.filter((manifest) => manifest.kind === 'Namespace');
  await cluster.kubectlOk(['apply', '-f', '-'], namespaces.map((m) => stringify(m)).join('---\n'));
  const result = await applyManifests(cluster, installed);
  if (result.code !== 0) throw new Error(`installing the manifests failed:\n${result.stderr}`);

  const token = (
    await cluster.kubectlOk(['create', 'token', 'pod-hardener', '-n', WEBHOOK_NAMESPACE, '--duration=6h'])
  ).trim();
  const kubeconfig = path.join(controlPlane.dir, 'webhook.kubeconfig');
  writeFileSync(kubeconfig, kubeconfigYaml(controlPlane.server, controlPlane.pki.ca.certPem, { token }), {
    mode: 0o600,
  });

  const configMap = rendered.find((manifest) => manifest.kind === 'ConfigMap');
  const shipped = (configMap?.data as Record<string, string> | undefined)?.['config.yaml'];
  if (shipped === undefined) throw new Error('manifests/base renders no ConfigMap with config.yaml');
  const configFile = path.join(controlPlane.dir, 'webhook-config.yaml');
  writeFileSync(
    configFile,
    stringify({
      ...(parse(shipped) as Record<string, unknown>),
      port,
      namespace: WEBHOOK_NAMESPACE,
      // The API server dials the URL by IP, so the self-managed certificate must name it.
      tlsExtraHosts: ['127.0.0.1'],
      tlsCertDir: path.join(controlPlane.dir, 'webhook-tls'),
      shutdownDelaySeconds: 0,
      ...options.configOverrides,
    }),
  );

  let running: ManagedProcess | undefined;
  const start = async (): Promise<void> => {
    running = startProcess(
      'pod-hardener',
      process.execPath,
      [
        path.join(options.repoRoot, 'dist/cli.js'),
        'serve',
        '--config',
        configFile,
        '--kubeconfig',
        kubeconfig,
      ],
      { dir: controlPlane.dir, cwd: options.repoRoot },
    );
    const child = running;
    await waitFor(
      'pod-hardener /readyz',
      async () => ((await getStatus(`https://127.0.0.1:${port}/readyz`)) === 200 ? true : undefined),
      { timeoutMs: 60_000, process: child },
    );
  };
  await start();
  return {
    url,
    configFile,
    configuration: pointAt(configuration, url),
    process: () => {
      if (running === undefined) throw new Error('the webhook was never started');
      return running;
    },
    start,
    stop: async () => {
      await running?.stop();
    },
  };
}
