/**
 * The cluster side of `pod-hardener audit`: list pods, apply PolicyReports. Loaded only by that command
 * (src/cli/audit.ts imports it with `await import`), so nothing else loads the Kubernetes client.
 */
import { CoreV1Api, KubeConfig, KubernetesObjectApi, PatchStrategy } from '@kubernetes/client-node';
import { loadKubeConfig } from '../k8s/client.js';
import type { PodLister, StoredPod } from './summarise.js';

export function kubeConfigFor(path: string | undefined): KubeConfig {
  if (path !== undefined) return loadKubeConfig({ kind: 'kubeconfig', path });
  const kc = new KubeConfig();
  kc.loadFromDefault();
  if (kc.getCurrentCluster() === null) throw new Error('no kubeconfig found (use --kubeconfig)');
  return kc;
}

export function podLister(kc: KubeConfig): PodLister {
  const core = kc.makeApiClient(CoreV1Api);
  return async (namespace) => {
    const pods: StoredPod[] = [];
    let token: string | undefined;
    do {
      const page =
        namespace === undefined
          ? await core.listPodForAllNamespaces({ limit: 500, _continue: token })
          : await core.listNamespacedPod({ namespace, limit: 500, _continue: token });
      pods.push(...(page.items as StoredPod[]));
      token = page.metadata?._continue || undefined;
    } while (token !== undefined);
    return pods;
  };
}

/** Server-side apply, field manager `pod-hardener`: creates the report or replaces what we wrote. */
export async function applyReports(
  kc: KubeConfig,
  reports: readonly Record<string, unknown>[],
): Promise<void> {
  const api = KubernetesObjectApi.makeApiClient(kc);
  for (const report of reports) {
    await api.patch(report, undefined, undefined, 'pod-hardener', true, PatchStrategy.ServerSideApply);
  }
}
