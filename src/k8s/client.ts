/**
 * A client-node KubeConfig, for the `audit` command only (src/audit/kube.ts). The webhook's serve path
 * uses ./kubeconfig.ts and ./http.ts instead, so it never loads client-node.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { describeError } from './requests.js';

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

/** Loads a kubeconfig file; errors name the file and never quote it. */
export function loadKubeConfig(file: string): KubeConfig {
  const kc = new KubeConfig();
  try {
    kc.loadFromFile(file);
  } catch (err) {
    throw new Error(`cannot load kubeconfig ${file}: ${describeLoadError(err)}`);
  }
  if (kc.getCurrentCluster() === null) {
    throw new Error(
      `kubeconfig ${file} has no usable current cluster (check current-context and its cluster entry)`,
    );
  }
  return kc;
}
