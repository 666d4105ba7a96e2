/**
 * `pod-hardener fn`: a KRM function (the KRM Functions Specification, `config.kubernetes.io/v1`
 * ResourceList). The ResourceList goes through `hardenFile` as one document whose items are the
 * workloads, so each item is hardened by the same engine path as `harden`, and only the changed
 * fields of its pod template are edited (comments and every other item stay as they were). The output
 * is the same ResourceList plus `results`: one per field set (info; warning when warn mode would set
 * it), per residual Pod Security "restricted" violation and template warning (warning), per skipped
 * workload (info) and per workload the webhook would deny (error). Input that cannot be used (no
 * ResourceList, a bad functionConfig, a malformed pod template) is one error result, with the items
 * passed through unchanged. The exit status is 1 exactly when a result is an error.
 */
import { isMap, parseDocument } from 'yaml';
import { isJsonObject } from '../engine/index.js';
import { hardenFile, type WorkloadReport } from './harden-file.js';
import { InputError } from './input-error.js';
import { FunctionConfigError, functionSettings } from './krm-config.js';
import { RESOURCE_LIST_VERSIONS } from './workloads.js';

export type Severity = 'error' | 'warning' | 'info';

export interface KrmResult {
  readonly message: string;
  readonly severity: Severity;
  readonly resourceRef?: {
    readonly apiVersion: string;
    readonly kind: string;
    readonly name: string;
    readonly namespace?: string;
  };
  readonly field?: { readonly path: string; readonly proposedValue?: unknown };
  readonly file?: { readonly path: string; readonly index?: number };
  readonly tags?: Readonly<Record<string, string>>;
}

export interface FunctionRun {
  /** The output ResourceList (YAML). */
  readonly output: string;
  readonly results: readonly KrmResult[];
  /** 0, or 1 when a result is an error. */
  readonly exitCode: number;
}

const PATH_ANNOTATIONS = ['internal.config.kubernetes.io/path', 'config.kubernetes.io/path'];
const INDEX_ANNOTATIONS = ['internal.config.kubernetes.io/index', 'config.kubernetes.io/index'];

function annotationsOf(item: unknown): Record<string, unknown> {
  if (!isJsonObject(item) || !isJsonObject(item.metadata)) return {};
  const { annotations } = item.metadata;
  return isJsonObject(annotations) ? annotations : {};
}

/** Where the orchestrator read the item from, per its (internal or legacy) annotations. */
function fileOf(item: unknown): KrmResult['file'] {
  const annotations = annotationsOf(item);
  const path = PATH_ANNOTATIONS.map((key) => annotations[key]).find((v) => typeof v === 'string');
  if (path === undefined) return undefined;
  const index = Number(INDEX_ANNOTATIONS.map((key) => annotations[key]).find((v) => v !== undefined));
  return Number.isInteger(index) && index >= 0 ? { path, index } : { path };
}

function namespaceOf(item: unknown): string | undefined {
  if (!isJsonObject(item) || !isJsonObject(item.metadata)) return undefined;
  const { namespace } = item.metadata;
  return typeof namespace === 'string' ? namespace : undefined;
}

function resultsOf(w: WorkloadReport, items: readonly unknown[], enforce: boolean): KrmResult[] {
  const item = w.item === undefined ? undefined : items[w.item];
  const namespace = namespaceOf(item);
  const file = fileOf(item);
  const about = {
    resourceRef: {
      apiVersion: w.apiVersion,
      kind: w.kind,
      name: w.name,
      ...(namespace === undefined ? {} : { namespace }),
    },
    ...(file === undefined ? {} : { file }),
  };
  const verb = enforce ? 'set' : 'would set';
  // Field paths of the item itself, not of the ResourceList: `spec.template...`, not `items[0].spec...`.
  const prefix = `items[${String(w.item)}].`;
  const fieldOf = (field: string): string => (field.startsWith(prefix) ? field.slice(prefix.length) : field);
  switch (w.outcome) {
    case 'no-pod-template':
      return [];
    case 'denied':
      return [
        {
          message: `the webhook would deny the pod: ${w.deniedMessage ?? 'denied'}`,
          severity: 'error',
          ...about,
        },
      ];
    case 'skipped':
      return [{ message: `skipped: ${w.skipReason ?? 'skipped'}`, severity: 'info', ...about }];
    case 'reviewed':
      break;
  }
  return [
    ...w.changes.map((c): KrmResult => ({
      message: `${c.control}: ${verb} ${fieldOf(c.field)}`,
      severity: enforce ? 'info' : 'warning',
      ...about,
      field: { path: fieldOf(c.field), proposedValue: c.value },
      tags: { control: c.control },
    })),
    ...w.violations.map((v): KrmResult => ({
      message: `Pod Security "restricted" ${v.check} (${v.target}): ${v.detail}`,
      severity: 'warning',
      ...about,
      tags: { check: v.check },
    })),
    ...w.warnings.map((message): KrmResult => ({ message, severity: 'warning', ...about })),
  ];
}

function emptyList(): string {
  return 'apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\n';
}

/** Runs the function on the text of a ResourceList. Never throws for bad input. */
export async function runFunction(input: string): Promise<FunctionRun> {
  const json = /^\s*\{/.test(input);
  let value: unknown;
  try {
    const doc = parseDocument(input, { prettyErrors: false });
    if (doc.errors.length > 0) throw new Error(doc.errors[0]?.message ?? 'invalid YAML');
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    return failed(emptyList(), `input is not YAML: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (
    !isJsonObject(value) ||
    value.kind !== 'ResourceList' ||
    !RESOURCE_LIST_VERSIONS.includes(value.apiVersion as string)
  ) {
    return failed(emptyList(), `input must be a ResourceList (${RESOURCE_LIST_VERSIONS.join(' or ')})`);
  }
  if (value.items !== undefined && value.items !== null && !Array.isArray(value.items)) {
    return failed(input, 'ResourceList items must be a list');
  }
  const items: readonly unknown[] = Array.isArray(value.items) ? value.items : [];

  let settings;
  try {
    settings = await functionSettings(value.functionConfig);
  } catch (err) {
    if (err instanceof FunctionConfigError) return failed(input, `functionConfig: ${err.message}`);
    throw err;
  }
  const enforce = settings.mode === 'enforce';
  let hardened;
  try {
    hardened = await hardenFile('ResourceList', input, json, {
      settings: settings.settings,
      mode: settings.mode,
      defaultNamespace: 'default',
      resourceList: true,
    });
  } catch (err) {
    if (err instanceof InputError) return failed(input, err.reason);
    throw err;
  }
  const results = hardened.workloads.flatMap((w) => resultsOf(w, items, enforce));
  return finish(enforce ? hardened.output : input, results);
}

function failed(text: string, message: string): Promise<FunctionRun> {
  return Promise.resolve(finish(text, [{ message, severity: 'error' }]));
}

/** The ResourceList text with the results appended to any it already had. */
function finish(text: string, results: readonly KrmResult[]): FunctionRun {
  const doc = parseDocument(text, { prettyErrors: false });
  const exitCode = results.some((r) => r.severity === 'error') ? 1 : 0;
  if (!isMap(doc.contents) || doc.errors.length > 0) {
    return { output: text, results, exitCode };
  }
  const previous = (doc.toJS({ maxAliasCount: 100 }) as { results?: unknown }).results;
  const all = [...(Array.isArray(previous) ? (previous as unknown[]) : []), ...results];
  if (all.length > 0) doc.set('results', doc.createNode(all, { aliasDuplicateObjects: false }));
  return { output: doc.toString({ lineWidth: 0 }), results, exitCode };
}
