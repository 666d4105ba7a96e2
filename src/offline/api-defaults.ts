/**
 * The one piece of the API server's defaulting that the engine's decisions depend on. Before admission
 * webhooks run, the API server sets every resource a container limits but does not request to its
 * limit (core/v1 defaulting of Pod). The webhook therefore never sees a limit without a request, and
 * the engine offline must not either: given `limits: {cpu: "1.5"}` alone, admission keeps the 1.5 CPU
 * request the API server set, where the raw template would get the 100m default request (found by the
 * differential test, test/e2e/differential.e2e.ts).
 */
import type { Operation } from 'fast-json-patch';
import { isJsonObject, type JsonObject } from '../engine/index.js';

const CONTAINER_LISTS = ['initContainers', 'containers'] as const;

/**
 * The pod spec with requests defaulted from limits, and the JSON pointers (in the pod) of the
 * `resources/requests` maps that defaulting created where the template has none, with their values.
 */
export function defaultRequests(spec: unknown): {
  readonly spec: unknown;
  readonly created: ReadonlyMap<string, JsonObject>;
} {
  const created = new Map<string, JsonObject>();
  if (!isJsonObject(spec)) return { spec, created };
  // Copied on write, along the path to each requests map set: most templates need none, and the
  // rest of the spec is shared, never changed (the engine does not modify the pod it is given).
  let copy: JsonObject | undefined;
  for (const list of CONTAINER_LISTS) {
    const containers = spec[list];
    if (!Array.isArray(containers)) continue;
    let listCopy: unknown[] | undefined;
    containers.forEach((container, index) => {
      if (!isJsonObject(container) || !isJsonObject(container.resources)) return;
      const { resources } = container;
      if (!isJsonObject(resources.limits)) return;
      const existing = isJsonObject(resources.requests) ? resources.requests : undefined;
      const requests: JsonObject = { ...(existing ?? {}) };
      for (const [name, quantity] of Object.entries(resources.limits)) {
        if (requests[name] === undefined) requests[name] = quantity;
      }
      if (Object.keys(requests).length === 0) return;
      copy ??= { ...spec };
      listCopy ??= [...(containers as unknown[])];
      copy[list] = listCopy;
      listCopy[index] = { ...container, resources: { ...resources, requests } };
      if (existing === undefined) created.set(`/spec/${list}/${index}/resources/requests`, requests);
    });
  }
  return { spec: copy ?? spec, created };
}

/**
 * The patch, made against the defaulted pod, made applicable to the template: an operation inside a
 * requests map that only defaulting created is preceded by the map itself, as the API server would
 * have stored it. A patch that does not reach into such a map is returned as it is.
 */
export function anchorInDefaults(
  patch: readonly Operation[],
  created: ReadonlyMap<string, JsonObject>,
): Operation[] {
  const anchored = new Set<string>();
  const out: Operation[] = [];
  for (const op of patch) {
    for (const [pointer, requests] of created) {
      if (!anchored.has(pointer) && op.path.startsWith(`${pointer}/`)) {
        anchored.add(pointer);
        out.push({ op: 'add', path: pointer, value: requests });
      }
    }
    out.push(op);
  }
  return out;
}
