/**
 * Where the pod template of each workload kind sits, and the Pod the engine sees for it: the template's
 * metadata and spec in the workload's namespace, exactly what the API server would send the webhook
 * for a pod the controller creates from it.
 */
import type { JsonObject, Pod } from '../engine/index.js';
import { isJsonObject } from '../engine/index.js';
import { defaultRequests } from './api-defaults.js';

export type Path = readonly (string | number)[];

/** API group (`''` for core) and the path of the pod template inside an object, per workload kind. */
const TEMPLATES: Readonly<Record<string, { readonly groups: readonly string[]; readonly path: Path }>> = {
  Pod: { groups: [''], path: [] },
  PodTemplate: { groups: [''], path: ['template'] },
  ReplicationController: { groups: [''], path: ['spec', 'template'] },
  Deployment: { groups: ['apps', 'extensions'], path: ['spec', 'template'] },
  StatefulSet: { groups: ['apps'], path: ['spec', 'template'] },
  DaemonSet: { groups: ['apps', 'extensions'], path: ['spec', 'template'] },
  ReplicaSet: { groups: ['apps', 'extensions'], path: ['spec', 'template'] },
  Job: { groups: ['batch'], path: ['spec', 'template'] },
  CronJob: { groups: ['batch'], path: ['spec', 'jobTemplate', 'spec', 'template'] },
};

export const WORKLOAD_KINDS = Object.keys(TEMPLATES);

export interface Workload {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  /** As written; undefined when the manifest leaves it to the client's context. */
  readonly namespace: string | undefined;
  /** Path of the workload object in its document: [] or ['items', n] in a List. */
  readonly objectPath: Path;
  /** Path of the pod template (metadata + spec) in the document; the object's own for a Pod. */
  readonly templatePath: Path;
  /** The pod template, or undefined when the object has none (a partial manifest, a patch). */
  readonly template: JsonObject | undefined;
}

function groupOf(apiVersion: unknown): string | undefined {
  if (typeof apiVersion !== 'string') return undefined;
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

function at(value: unknown, path: Path): unknown {
  let node = value;
  for (const key of path) {
    if (Array.isArray(node) && typeof key === 'number') node = node[key] as unknown;
    else if (isJsonObject(node) && typeof key === 'string') node = node[key];
    else return undefined;
  }
  return node;
}

/** apiVersions of a KRM function's `ResourceList` (the KRM Functions Specification). */
export const RESOURCE_LIST_VERSIONS = ['config.kubernetes.io/v1', 'config.kubernetes.io/v1beta1'];

/**
 * The workloads in one document's value: the object itself, or each item of a `kind: List` (or, with
 * `resourceList`, of a KRM function's `ResourceList`).
 */
export function workloadsIn(value: unknown, resourceList = false): Workload[] {
  if (!isJsonObject(value)) return [];
  const list =
    (value.kind === 'List' && value.apiVersion === 'v1') ||
    (resourceList &&
      value.kind === 'ResourceList' &&
      RESOURCE_LIST_VERSIONS.includes(value.apiVersion as string));
  if (list && Array.isArray(value.items)) {
    return value.items.flatMap((item, index) => workloadAt(item, ['items', index]) ?? []);
  }
  const one = workloadAt(value, []);
  return one === undefined ? [] : [one];
}

function workloadAt(object: unknown, objectPath: Path): Workload | undefined {
  if (!isJsonObject(object) || typeof object.kind !== 'string') return undefined;
  const entry = TEMPLATES[object.kind];
  const group = groupOf(object.apiVersion);
  if (entry === undefined || group === undefined || !entry.groups.includes(group)) return undefined;
  const metadata = isJsonObject(object.metadata) ? object.metadata : {};
  const template = at(object, entry.path);
  return {
    apiVersion: object.apiVersion as string,
    kind: object.kind,
    name:
      typeof metadata.name === 'string'
        ? metadata.name
        : typeof metadata.generateName === 'string'
          ? metadata.generateName
          : '',
    namespace: typeof metadata.namespace === 'string' ? metadata.namespace : undefined,
    objectPath,
    templatePath: [...objectPath, ...entry.path],
    template:
      isJsonObject(template) && template.spec !== undefined && template.spec !== null ? template : undefined,
  };
}

/**
 * The Pod the API server would send the webhook for a pod made from the template, with the defaulting
 * the engine's decisions depend on (requests from limits) already applied.
 */
export function podFromTemplate(workload: Workload, namespace: string): Pod {
  const template = workload.template ?? {};
  const metadata = isJsonObject(template.metadata) ? template.metadata : {};
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { ...metadata, namespace },
    spec: defaultRequests(template.spec).spec,
  } as Pod;
}
