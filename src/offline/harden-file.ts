/**
 * Hardens every workload of one manifest file and produces the file's new text and what was found.
 * Nothing here touches the file system.
 */
import jsonPatch, { type Operation } from 'fast-json-patch';
import { isAlias, isMap, isScalar, isSeq, type Document } from 'yaml';
import { isJsonObject, type Change, type EngineSettings, type Mode, type Skip } from '../engine/index.js';
import { parseManifestFile, type ManifestFile, type SourceDocument } from './documents.js';
import { anchorInDefaults, defaultRequests } from './api-defaults.js';
import { PodShapeError, runEngine, type WorkloadOutcome } from './engine.js';
import { InputError } from './input-error.js';
import { render, sameValue, styleOf, valueOf } from './render.js';
import { spliceEdits } from './text-diff.js';
import { EditError, applyOperations } from './yaml-edit.js';
import { insertIntoSource } from './yaml-insert.js';
import { podFromTemplate, workloadsIn, type Path, type Workload } from './workloads.js';

export interface HardenSettings {
  readonly settings: EngineSettings;
  readonly mode: Mode;
  /** For workloads whose manifest names no namespace, as kubectl's context would supply it. */
  readonly defaultNamespace: string;
  /** The file is a KRM function's ResourceList: harden its items (`pod-hardener fn`). */
  readonly resourceList?: boolean;
}

export interface Located {
  /** 1-based line in the file. */
  readonly line: number;
}

export interface ChangeReport extends Change, Located {
  /** Where the field is in the document, such as `spec.template.spec.containers[0].securityContext`. */
  readonly field: string;
}

export interface ViolationReport extends Located {
  readonly check: string;
  readonly target: string;
  readonly detail: string;
}

export interface WorkloadReport extends Located {
  readonly file: string;
  /** Index of the document in the file, from 0. */
  readonly document: number;
  /** Index of the item in a ResourceList (only with `resourceList`). */
  readonly item?: number;
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace: string;
  readonly outcome: WorkloadOutcome | 'no-pod-template';
  readonly skipReason?: string;
  readonly deniedMessage?: string;
  readonly changes: readonly ChangeReport[];
  readonly skipped: readonly Skip[];
  /** Opt-outs the template's skip-controls annotation asked for and got, as written. */
  readonly optOuts: readonly string[];
  readonly violations: readonly ViolationReport[];
  readonly warnings: readonly string[];
  readonly admissionWarnings: readonly string[];
}

export interface FileResult {
  readonly name: string;
  readonly original: string;
  /** The new text; equal to `original` when nothing changed. */
  readonly output: string;
  readonly workloads: readonly WorkloadReport[];
}

export async function hardenFile(
  name: string,
  text: string,
  json: boolean,
  options: HardenSettings,
): Promise<FileResult> {
  const file = parseManifestFile(name, text, json);
  const workloads: WorkloadReport[] = [];
  const newSources = new Map<number, string>();
  for (const document of file.documents) {
    const { reports, edited } = await hardenDocument(file, document, options);
    workloads.push(...reports);
    if (edited !== undefined) newSources.set(document.index, edited);
  }
  if (newSources.size === 0) return { name, original: text, output: text, workloads };
  const output = file.segments
    .map((segment) =>
      segment.kind === 'raw'
        ? segment.text
        : (newSources.get(segment.document.index) ?? segment.document.source),
    )
    .join('');
  return { name, original: text, output, workloads };
}

async function hardenDocument(
  file: ManifestFile,
  document: SourceDocument,
  options: HardenSettings,
): Promise<{ reports: WorkloadReport[]; edited?: string }> {
  const { doc } = document;
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new InputError(file.name, document.index, err instanceof Error ? err.message : String(err));
  }
  const reports: WorkloadReport[] = [];
  const edits: { readonly workload: Workload; readonly patch: readonly Operation[] }[] = [];
  for (const workload of workloadsIn(value, options.resourceList === true)) {
    const namespace = workload.namespace ?? options.defaultNamespace;
    const item = workload.objectPath[1];
    const base = {
      file: file.name,
      document: document.index,
      ...(options.resourceList === true && typeof item === 'number' ? { item } : {}),
      line: file.lineOf(offsetOfPath(doc, workload.objectPath)),
      apiVersion: workload.apiVersion,
      kind: workload.kind,
      name: workload.name,
      namespace,
    };
    if (workload.template === undefined) {
      reports.push({
        ...base,
        outcome: 'no-pod-template',
        changes: [],
        skipped: [],
        optOuts: [],
        violations: [],
        warnings: [],
        admissionWarnings: [],
      });
      continue;
    }
    const pod = podFromTemplate(workload, namespace);
    let result;
    try {
      result = await runEngine(pod, options.settings, options.mode);
    } catch (err) {
      if (!(err instanceof PodShapeError)) throw err;
      const where = dotted(workload.templatePath);
      const message = err.message
        .replaceAll('request.object.', where === '' ? '' : `${where}.`)
        .replaceAll('request.object', where === '' ? 'the object' : where);
      throw new InputError(file.name, document.index, `${workload.kind} ${workload.name}: ${message}`);
    }
    const at = (pointer: string): number =>
      file.lineOf(offsetOfPath(doc, [...workload.templatePath, ...pointerSegments(pointer)]));
    reports.push({
      ...base,
      outcome: result.outcome,
      ...(result.skipReason === undefined ? {} : { skipReason: result.skipReason }),
      ...(result.deniedMessage === undefined ? {} : { deniedMessage: result.deniedMessage }),
      changes: result.changes.map((change) => ({
        ...change,
        field: dotted([...workload.templatePath, ...pointerSegments(change.path)]),
        line: at(change.path),
      })),
      skipped: result.skipped,
      optOuts: result.optOuts,
      violations: result.violations.map((violation) => ({
        ...violation,
        line: at(containerPointer(pod, violation.target)),
      })),
      warnings: result.warnings,
      admissionWarnings: result.admissionWarnings,
    });
    if (result.patch.length > 0) {
      // The patch was made against the defaulted pod: anchor it in the template as written.
      const { created } = defaultRequests(workload.template.spec);
      edits.push({ workload, patch: anchorInDefaults(result.patch, created) });
    }
  }
  if (edits.length === 0) return { reports };

  // What the document must say afterwards: its value with every patch applied. The value itself is
  // patched (nothing reads it after the engine runs), sparing a copy of the whole document.
  const expected = value;
  for (const { workload, patch } of edits) {
    const prefix = workload.templatePath.map((key) => `/${escape(String(key))}`).join('');
    jsonPatch.applyPatch(
      expected,
      patch.map((op) => ({ ...op, path: prefix + op.path })),
      false,
      true,
    );
  }
  const edited = file.json ? jsonText(document.source, expected) : editYaml(file, document, edits, expected);
  return { reports, edited };
}

function editYaml(
  file: ManifestFile,
  document: SourceDocument,
  edits: readonly { readonly workload: Workload; readonly patch: readonly Operation[] }[],
  expected: unknown,
): string {
  const { doc } = document;
  const style = styleOf(document.source);
  // Most edits only add keys and items: written into the source, nothing else is rendered.
  const inserted = insertIntoSource(
    document,
    edits.map(({ workload, patch }) => ({ base: workload.templatePath, patch })),
    style,
  );
  if (inserted !== undefined && sameValue(valueOf(inserted), expected)) return inserted;
  const before = render(doc, style);
  try {
    for (const { workload, patch } of edits) applyOperations(doc, workload.templatePath, patch);
  } catch (err) {
    if (!(err instanceof EditError)) throw err;
    throw new InputError(file.name, document.index, `cannot edit: ${err.message}`);
  }
  const after = render(doc, style);
  const spliced = spliceEdits(document.source, before, after);
  for (const candidate of [spliced, after]) {
    if (candidate !== undefined && sameValue(valueOf(candidate), expected)) return candidate;
  }
  throw new InputError(
    file.name,
    document.index,
    'cannot edit: a YAML anchor is shared between fields pod-hardener changes and fields it does not; expand the alias',
  );
}

/** A JSON document rewritten with its own indentation (JSON keeps no comments to lose). */
function jsonText(source: string, value: unknown): string {
  const indent = /\n([ \t]+)\S/.exec(source)?.[1] ?? '';
  const leading = /^\s*/.exec(source)?.[0] ?? '';
  const trailing = /\s*$/.exec(source)?.[0] ?? '';
  return leading + JSON.stringify(value, null, indent === '' ? undefined : indent) + trailing;
}

function escape(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}

function pointerSegments(pointer: string): (string | number)[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'))
    .map((part) => (/^(0|[1-9][0-9]*)$/.test(part) ? Number(part) : part));
}

/** `spec.template.spec.containers[0].securityContext`. */
export function dotted(path: Path): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) out += out === '' ? key : `.${key}`;
    else out += `[${JSON.stringify(key)}]`;
  }
  return out;
}

/** Pointer of a violation's target: the container of that name, or the pod spec. */
function containerPointer(pod: ReturnType<typeof podFromTemplate>, target: string): string {
  if (target !== 'pod') {
    for (const list of ['initContainers', 'containers', 'ephemeralContainers'] as const) {
      const index = (pod.spec?.[list] ?? []).findIndex((c) => isJsonObject(c) && c.name === target);
      if (index >= 0) return `/spec/${list}/${index}`;
    }
  }
  return '/spec';
}

/** Offset of the deepest node on `path` that exists in the document (a key's own position for a map). */
function offsetOfPath(doc: Document, path: Path): number {
  let node: unknown = doc.contents;
  let offset = isScalar(node) || isMap(node) || isSeq(node) ? (node.range?.[0] ?? 0) : 0;
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === key);
      if (pair === undefined) break;
      if (isScalar(pair.key) && pair.key.range) offset = pair.key.range[0];
      node = pair.value;
    } else if (isSeq(node) && typeof key === 'number') {
      const item: unknown = node.items[key];
      if (item === undefined || isAlias(item)) break;
      if ((isMap(item) || isSeq(item) || isScalar(item)) && item.range) offset = item.range[0];
      node = item;
    } else break;
  }
  return offset;
}
