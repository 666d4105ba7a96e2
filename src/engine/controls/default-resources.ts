/**
 * default-resources
 *
 * Spec: fill missing cpu and memory requests and limits of init containers (sidecars included) and
 * containers from configuration; a default set to null is not applied. Never produce a request above
 * its limit, which the API rejects: quantities are compared as numbers (`1Gi`, `500m`, `1e3`), a
 * defaulted limit is raised to an existing request, and a defaulted request is lowered to the limit.
 *
 * Ephemeral containers are never covered: the API forbids resources on them. A pod with pod-level
 * `spec.resources` is skipped: its owner budgets the pod as a whole, and container values we invent
 * could exceed that budget.
 *
 * An image profile may declare the least a container needs (`resourceMinimums`). A default below it
 * would starve or OOM-kill the container, so it is left out, recorded and warned about: a default
 * limit below the profile's limit or request, a default request below the profile's request.
 */
import { compareQuantityText } from '../pod/quantity.js';
import type { Pod } from '../pod/model.js';
import { DraftRecorder, getPath } from './recorder.js';
import type { Control, ControlInputs, ControlScope } from './types.js';

const RESOURCES = ['cpu', 'memory'] as const;

export const defaultResources: Control = {
  id: 'default-resources',
  coversEphemeralContainers: false,
  apply(
    draft: Pod,
    scope: ControlScope,
    { resources: defaults, resourceMinimums }: Pick<ControlInputs, 'resources' | 'resourceMinimums'>,
  ) {
    const rec = new DraftRecorder('default-resources');
    if (draft.spec?.resources) {
      for (const ref of scope.targets)
        rec.skip(ref.name, 'pod-level resources are set; container defaults left out');
      return rec.result();
    }
    for (const ref of scope.targets) {
      const minimums = resourceMinimums.get(ref.pointer);
      /** Why a default is below what the profile declares, or undefined when it is not. */
      const belowProfile = (kind: 'limit' | 'request', value: unknown, resource: 'cpu' | 'memory') => {
        if (minimums === undefined) return undefined;
        const declared =
          kind === 'request'
            ? [minimums.requests[resource]]
            : [minimums.limits[resource], minimums.requests[resource]];
        for (const minimum of declared) {
          if (minimum === undefined || (compareQuantityText(value, minimum) ?? 0) >= 0) continue;
          return (
            `default ${resource} ${kind} ${String(value)} is below the ${minimum} image profile ` +
            `${minimums.profile} declares; left unset so the container can run`
          );
        }
        return undefined;
      };
      const skipBelow = (reason: string): void => {
        rec.skip(ref.name, reason, { profile: minimums?.profile ?? '', keepsStartable: true });
      };
      for (const resource of RESOURCES) {
        const request = getPath(ref.container, ['resources', 'requests', resource]) ?? undefined;
        const limit = getPath(ref.container, ['resources', 'limits', resource]) ?? undefined;
        let limitAfter: unknown = limit;

        const defaultLimit = defaults.limits[resource];
        if (limit === undefined && defaultLimit !== null) {
          let value: unknown = defaultLimit;
          if (request !== undefined) {
            const order = compareQuantityText(request, defaultLimit);
            if (order === undefined) {
              rec.skip(ref.name, `${resource} request is not a valid quantity; ${resource} left as set`);
              continue;
            }
            if (order > 0) value = request;
          }
          const below = belowProfile('limit', value, resource);
          if (below === undefined) {
            rec.fill(ref.container, ref.pointer, ['resources', 'limits', resource], value, ref.name);
            limitAfter = value;
          } else skipBelow(below);
        }

        const defaultRequest = defaults.requests[resource];
        if (request === undefined && defaultRequest !== null) {
          let value: unknown = defaultRequest;
          if (limitAfter !== undefined) {
            const order = compareQuantityText(defaultRequest, limitAfter);
            if (order === undefined) {
              rec.skip(ref.name, `${resource} limit is not a valid quantity; ${resource} request left unset`);
              continue;
            }
            if (order > 0) value = limitAfter;
          }
          const below = belowProfile('request', value, resource);
          if (below === undefined)
            rec.fill(ref.container, ref.pointer, ['resources', 'requests', resource], value, ref.name);
          else skipBelow(below);
        }
      }
    }
    return rec.result();
  },
};
