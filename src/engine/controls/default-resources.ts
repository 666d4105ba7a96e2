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
 */
import { compareQuantityText } from '../pod/quantity.js';
import type { Pod } from '../pod/model.js';
import { DraftRecorder, getPath } from './recorder.js';
import type { Control, ControlInputs, ControlScope } from './types.js';

const RESOURCES = ['cpu', 'memory'] as const;

export const defaultResources: Control = {
  id: 'default-resources',
  coversEphemeralContainers: false,
  apply(draft: Pod, scope: ControlScope, { resources: defaults }: Pick<ControlInputs, 'resources'>) {
    const rec = new DraftRecorder('default-resources');
    if (draft.spec?.resources) {
      for (const ref of scope.targets)
        rec.skip(ref.name, 'pod-level resources are set; container defaults left out');
      return rec.result();
    }
    for (const ref of scope.targets) {
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
          rec.fill(ref.container, ref.pointer, ['resources', 'limits', resource], value, ref.name);
          limitAfter = value;
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
          rec.fill(ref.container, ref.pointer, ['resources', 'requests', resource], value, ref.name);
        }
      }
    }
    return rec.result();
  },
};
