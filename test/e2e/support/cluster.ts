/**
 * How the scenarios talk to the API server: @kubernetes/client-node as a program would, kubectl as a
 * person would. kubectl runs asynchronously so that test-only webhooks served from this process keep
 * answering while it waits.
 */
import path from 'node:path';
import {
  AdmissionregistrationV1Api,
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  type V1Namespace,
  type V1Pod,
} from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { runCommand, sleep, waitFor, type CommandResult } from './processes.js';

export type KubectlResult = CommandResult;

export interface Cluster {
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly admission: AdmissionregistrationV1Api;
  readonly kubeconfigPath: string;
  kubectl(args: readonly string[], input?: string): Promise<KubectlResult>;
  /** kubectl that must succeed; returns stdout. */
  kubectlOk(args: readonly string[], input?: string): Promise<string>;
}

export function connect(binDir: string, kubeconfigPath: string): Cluster {
  const config = new KubeConfig();
  config.loadFromFile(kubeconfigPath);
  const kubectl = (args: readonly string[], input?: string): Promise<KubectlResult> =>
    runCommand(path.join(binDir, 'kubectl'), ['--kubeconfig', kubeconfigPath, ...args], {
      ...(input === undefined ? {} : { input }),
    });
  return {
    core: config.makeApiClient(CoreV1Api),
    apps: config.makeApiClient(AppsV1Api),
    admission: config.makeApiClient(AdmissionregistrationV1Api),
    kubeconfigPath,
    kubectl,
    async kubectlOk(args, input) {
      const result = await kubectl(args, input);
      if (result.code !== 0) {
        throw new Error(`kubectl ${args.join(' ')} exited ${result.code}:\n${result.stderr}${result.stdout}`);
      }
      return result.stdout;
    },
  };
}

/** A manifest rendered by kustomize, as plain JSON objects. */
export type Manifest = Record<string, unknown> & {
  kind: string;
  metadata: { name: string; namespace?: string };
};

export async function renderKustomization(cluster: Cluster, dir: string): Promise<Manifest[]> {
  const yaml = await cluster.kubectlOk(['kustomize', dir]);
  return parseAllDocuments(yaml)
    .map((document) => document.toJS() as Manifest | null)
    .filter((manifest): manifest is Manifest => manifest !== null);
}

let namespaceCounter = 0;

/**
 * A namespace named after the scenario, with the labels and annotations given, once its default
 * ServiceAccount exists (the ServiceAccount admission plugin refuses pods until it does).
 */
export async function createNamespace(
  cluster: Cluster,
  prefix: string,
  options: { labels?: Record<string, string>; annotations?: Record<string, string> } = {},
): Promise<string> {
  namespaceCounter += 1;
  const name = `${prefix}-${namespaceCounter}-${Date.now().toString(36).slice(-4)}`;
  const body: V1Namespace = {
    metadata: { name, labels: options.labels ?? {}, annotations: options.annotations ?? {} },
  };
  await cluster.core.createNamespace({ body });
  await waitFor(
    `default ServiceAccount in ${name}`,
    async () =>
      (await cluster.core.readNamespacedServiceAccount({ name: 'default', namespace: name })).metadata?.name,
    { timeoutMs: 30_000 },
  );
  return name;
}

/** Resolves once the controller manager has created the default ServiceAccount: the cluster is usable. */
export async function waitForControllers(cluster: Cluster): Promise<void> {
  await waitFor(
    'the controller manager to create the default ServiceAccount',
    async () =>
      (await cluster.core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' })).metadata
        ?.name,
    { timeoutMs: 60_000 },
  );
}

export const OPTED_IN = { 'pod-hardener.io/enabled': 'true' } as const;
export const RESTRICTED = { 'pod-security.kubernetes.io/enforce': 'restricted' } as const;

export function readPod(cluster: Cluster, namespace: string, name: string): Promise<V1Pod> {
  return cluster.core.readNamespacedPod({ namespace, name });
}

export async function createPod(cluster: Cluster, namespace: string, pod: V1Pod): Promise<V1Pod> {
  return cluster.core.createNamespacedPod({ namespace, body: pod });
}

/** Lines kubectl printed as API server warnings. */
export function warningsOf(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('Warning: '))
    .map((line) => line.slice('Warning: '.length));
}

export { sleep };
