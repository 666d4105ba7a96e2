/**
 * A structural check of the fields the engine reads. The API server only sends pods it has decoded and
 * defaulted, so this never rejects real traffic; it keeps hand-made or corrupted requests from reaching
 * the controls as something they would trip on, and names the first offending field.
 */
import { CONTAINER_LISTS } from './pod.js';
import { isJsonObject, type JsonObject } from '../util/json.js';

const isAbsent = (v: unknown): boolean => v === undefined || v === null;

function checkStringMap(value: unknown, where: string): string | undefined {
  if (isAbsent(value)) return undefined;
  if (!isJsonObject(value)) return `${where} must be an object`;
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') return `${where}[${JSON.stringify(key)}] must be a string`;
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
  for (const [i, item] of value.entries()) {
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
    checkOptionalObject(spec.os, `${where}.spec.os`)
  );
}
