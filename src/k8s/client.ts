/**
 * A client-node KubeConfig, for the `audit` command only (src/audit/kube.ts). The webhook's serve path
 * uses ./kubeconfig.ts and ./http.ts instead, so it never loads client-node.
 */
import { existsSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import type { ClusterConnection } from './kubeconfig.js';
import { describeError } from './requests.js';

export type { ClusterConnection } from './kubeconfig.js';

// Not exported by client-node; checked up front so a pod without a mounted token fails at start-up.
const SERVICE_ACCOUNT_TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount/token';

function describeLoadError(err: unknown): string {
  if (err !== null && typeof err === 'object') {
    const e = err as { name?: unknown; code?: unknown; reason?: unknown; mark?: { line?: unknown } };
    // js-yaml messages quote the offending lines, which may hold credentials.
    if (e.name === 'YAMLException') {
      const line = typeof e.mark?.line === 'number' ? ` at line ${e.mark.line + 1}` : '';
      return `invalid YAML${line}${typeof e.reason === 'string' ? `: ${e.reason}` : ''}`;
    }
    if (typeof e.code === 'string') return e.code;
    // client-node dereferences the parsed document without checking it is a mapping.
    if (err instanceof TypeError) return 'not a kubeconfig document';
  }
  return describeError(err);
}

export function loadKubeConfig(cluster: Exclude<ClusterConnection, { kind: 'off' }>): KubeConfig {
  const kc = new KubeConfig();
  if (cluster.kind === 'in-cluster') {
    // loadFromCluster does not check its inputs and would yield a server URL of https://undefined:undefined.
    if (!process.env.KUBERNETES_SERVICE_HOST || !process.env.KUBERNETES_SERVICE_PORT) {
      throw new Error(
        'in-cluster Kubernetes config requested but KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are not set (not running in a pod?)',
      );
    }
    if (!existsSync(SERVICE_ACCOUNT_TOKEN_PATH)) {
      throw new Error(
        `in-cluster Kubernetes config requested but ${SERVICE_ACCOUNT_TOKEN_PATH} does not exist (is automountServiceAccountToken disabled?)`,
      );
    }
    kc.loadFromCluster();
    return kc;
  }
  try {
    kc.loadFromFile(cluster.path);
  } catch (err) {
    throw new Error(`cannot load kubeconfig ${cluster.path}: ${describeLoadError(err)}`);
  }
  if (kc.getCurrentCluster() === null) {
    throw new Error(
      `kubeconfig ${cluster.path} has no usable current cluster (check current-context and its cluster entry)`,
    );
  }
  return kc;
}
