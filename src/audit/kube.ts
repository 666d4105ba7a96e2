/**
 * The cluster side of `pod-hardener audit`: list pods, apply PolicyReports. Loaded only by that command
 * (src/cli/audit.ts imports it with `await import`), so nothing else loads the Kubernetes client.
 */
import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
} from '@kubernetes/client-node';
import { loadKubeConfig } from '../k8s/client.js';
import { AUDIT_REPORT_LABELS, REPORT_NAME } from './render.js';
import type { ReportStore } from './report-store.js';
import type { PodLister, StoredPod } from './summarise.js';

export function kubeConfigFor(path: string | undefined): KubeConfig {
  if (path !== undefined) return loadKubeConfig(path);
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

const POLICY_REPORTS = { group: 'wgpolicyk8s.io', version: 'v1alpha2', plural: 'policyreports' } as const;

/**
 * PolicyReports in the cluster: applied by server-side apply (field manager `pod-hardener`, so a second
 * run replaces what the first wrote), found by the labels only `audit` puts on its reports.
 */
export function reportStore(kc: KubeConfig): ReportStore {
  const objects = KubernetesObjectApi.makeApiClient(kc);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const labelSelector = Object.entries(AUDIT_REPORT_LABELS)
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
  return {
    apply: async (reports) => {
      for (const report of reports) {
        await objects.patch(
          report,
          undefined,
          undefined,
          'pod-hardener',
          true,
          PatchStrategy.ServerSideApply,
        );
      }
    },
    namespacesWithReports: async (namespace) => {
      const listed = (
        namespace === undefined
          ? await custom.listCustomObjectForAllNamespaces({ ...POLICY_REPORTS, labelSelector })
          : await custom.listNamespacedCustomObject({ ...POLICY_REPORTS, namespace, labelSelector })
      ) as { items?: { metadata?: { name?: string; namespace?: string } }[] };
      return (listed.items ?? [])
        .filter((item) => item.metadata?.name === REPORT_NAME)
        .map((item) => item.metadata?.namespace ?? '');
    },
    remove: async (namespace) => {
      try {
        await custom.deleteNamespacedCustomObject({ ...POLICY_REPORTS, namespace, name: REPORT_NAME });
      } catch (err) {
        // Gone already (another run, or the namespace's deletion): what we wanted.
        if (!(err instanceof ApiException && err.code === 404)) throw err;
      }
    },
  };
}
