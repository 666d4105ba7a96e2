/**
 * A structural check of the fields the engine reads. The API server only sends pods it has decoded and
 * defaulted, so this never rejects real traffic; it keeps hand-made or corrupted requests from reaching
 * the controls as something they would trip on, and names the first offending field.
 */
import { CONTAINER_LISTS } from './model.js';
import { isJsonObject, type JsonObject } from './json.js';

const isAbsent = (v: unknown): boolean => v === undefined || v === null;

function checkStringMap(value: unknown, where: string): string | undefined {
  if (isAbsent(value)) return undefined;
  if (!isJsonObject(value)) return `${where} must be an object`;
  // for...in, not Object.entries: a map of 50,000 keys would otherwise be copied into as many pairs.
  for (const key in value) {
    if (typeof value[key] !== 'string') return `${where}[${JSON.stringify(key)}] must be a string`;
  }
  return undefined;
}

function checkObjectList(
  value: unknown,
  where: string,
  each: (item: JsonObject, where: string) => string | undefined,
): string | undefined {
  if (isAbsent(value)) return undefined;
  if (!Array.isArray(value)) return `${where} must be an array`;
  // An index loop: entries() would make an [index, item] pair for every item of every list.
  for (let i = 0; i < value.length; i++) {
    const item: unknown = value[i];
    if (!isJsonObject(item)) return `${where}[${i}] must be an object`;
    const problem = each(item, `${where}[${i}]`);
    if (problem) return problem;
  }
  return undefined;
}

function checkStringList(value: unknown, where: string): string | undefined {
  if (isAbsent(value)) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string'))
    return `${where} must be a list of strings`;
  return undefined;
}

function checkOptionalObject(value: unknown, where: string): string | undefined {
  return isAbsent(value) || isJsonObject(value) ? undefined : `${where} must be an object`;
}

function checkContainer(c: JsonObject, where: string): string | undefined {
  if (typeof c.name !== 'string' || c.name === '') return `${where}.name must be a non-empty string`;
  const sc = c.securityContext;
  const problem =
    checkOptionalObject(sc, `${where}.securityContext`) ??
    checkOptionalObject(c.resources, `${where}.resources`) ??
    checkObjectList(c.volumeMounts, `${where}.volumeMounts`, (m, w) =>
      typeof m.mountPath === 'string' ? undefined : `${w}.mountPath must be a string`,
    ) ??
    checkObjectList(c.ports, `${where}.ports`, () => undefined);
  if (problem) return problem;
  if (isJsonObject(sc)) {
    const caps = sc.capabilities;
    const capsProblem =
      checkOptionalObject(caps, `${where}.securityContext.capabilities`) ??
      checkOptionalObject(sc.seccompProfile, `${where}.securityContext.seccompProfile`) ??
      checkOptionalObject(sc.windowsOptions, `${where}.securityContext.windowsOptions`);
    if (capsProblem) return capsProblem;
    if (isJsonObject(caps)) {
      return (
        checkStringList(caps.add, `${where}.securityContext.capabilities.add`) ??
        checkStringList(caps.drop, `${where}.securityContext.capabilities.drop`)
      );
    }
  }
  if (isJsonObject(c.resources)) {
    return (
      checkOptionalObject(c.resources.requests, `${where}.resources.requests`) ??
      checkOptionalObject(c.resources.limits, `${where}.resources.limits`)
    );
  }
  return undefined;
}

/** Returns a description of the first structural problem, or undefined for a usable pod. */
export function podShapeProblem(object: unknown, where = 'object'): string | undefined {
  if (!isJsonObject(object)) return `${where} must be a Pod object`;
  const metadata = object.metadata;
  if (!isAbsent(metadata)) {
    if (!isJsonObject(metadata)) return `${where}.metadata must be an object`;
    const problem =
      checkStringMap(metadata.annotations, `${where}.metadata.annotations`) ??
      checkStringMap(metadata.labels, `${where}.metadata.labels`);
    if (problem) return problem;
  }
  const spec = object.spec;
  if (!isJsonObject(spec)) return `${where}.spec must be an object`;
  for (const list of CONTAINER_LISTS) {
    const problem = checkObjectList(spec[list], `${where}.spec.${list}`, checkContainer);
    if (problem) return problem;
  }
  return (
    checkObjectList(spec.volumes, `${where}.spec.volumes`, (v, w) =>
      typeof v.name === 'string' ? undefined : `${w}.name must be a string`,
    ) ??
    checkOptionalObject(spec.securityContext, `${where}.spec.securityContext`) ??
    checkOptionalObject(spec.os, `${where}.spec.os`) ??
    checkStringMap(spec.nodeSelector, `${where}.spec.nodeSelector`) ??
    checkNodeAffinity(spec.affinity, `${where}.spec.affinity`)
  );
}

/** The required node-affinity terms, which decide whether a pod is Windows. */
function checkNodeAffinity(affinity: unknown, where: string): string | undefined {
  if (isAbsent(affinity)) return undefined;
  if (!isJsonObject(affinity)) return `${where} must be an object`;
  const nodeAffinity = affinity.nodeAffinity;
  if (isAbsent(nodeAffinity)) return undefined;
  if (!isJsonObject(nodeAffinity)) return `${where}.nodeAffinity must be an object`;
  const required = nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution;
  const requiredWhere = `${where}.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution`;
  if (isAbsent(required)) return undefined;
  if (!isJsonObject(required)) return `${requiredWhere} must be an object`;
  return checkObjectList(required.nodeSelectorTerms, `${requiredWhere}.nodeSelectorTerms`, (term, w) =>
    checkObjectList(term.matchExpressions, `${w}.matchExpressions`, (e, ew) =>
      typeof e.key !== 'string'
        ? `${ew}.key must be a string`
        : typeof e.operator !== 'string'
          ? `${ew}.operator must be a string`
          : checkStringList(e.values, `${ew}.values`),
    ),
  );
}

/**
 * How deeply `value` nests objects and arrays, counted without recursion so that hostile input cannot
 * overflow the stack here; stops as soon as it exceeds `max`.
 */
export function exceedsDepth(value: unknown, max: number): boolean {
  // Two parallel stacks rather than a {node, depth} pair per node: this walks every object of a review.
  const nodes: unknown[] = [value];
  const depths: number[] = [0];
  while (nodes.length > 0) {
    const node = nodes.pop();
    const depth = depths.pop() ?? 0;
    if (typeof node !== 'object' || node === null) continue;
    if (depth >= max) return true;
    if (Array.isArray(node)) {
      for (const child of node as unknown[])
        if (typeof child === 'object' && child !== null) {
          nodes.push(child);
          depths.push(depth + 1);
        }
    } else {
      const record = node as Record<string, unknown>;
      for (const key in record) {
        const child = record[key];
        if (typeof child === 'object' && child !== null) {
          nodes.push(child);
          depths.push(depth + 1);
        }
      }
    }
  }
  return false;
}
