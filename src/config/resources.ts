import {
  DEFAULT_ENGINE_SETTINGS,
  compareQuantities,
  parseQuantity,
  type DefaultQuantity,
  type Quantity,
  type ResourceDefaults,
} from '../engine/index.js';
import { positiveQuantity } from './checks.js';
import type { Key, ResourceKey } from './schema.js';
import type { Setting } from './sources.js';

/**
 * The default requests and limits: each may be switched off with null or "", and a request above its
 * limit is refused, since the API server would reject every pod that got both.
 */
export function takeResources(settings: ReadonlyMap<Key, Setting>, problems: string[]): ResourceDefaults {
  const parsed = new Map<ResourceKey, Quantity>();
  const value = (key: ResourceKey, fallback: DefaultQuantity): DefaultQuantity => {
    const setting = settings.get(key);
    if (setting === undefined) {
      const q = fallback === null ? undefined : parseQuantity(fallback);
      if (q !== undefined) parsed.set(key, q);
      return fallback;
    }
    // null or "" is how an operator switches one default off.
    if (setting.value === null || setting.value === '') return null;
    const result = positiveQuantity(setting.value);
    if ('problem' in result) {
      problems.push(`${key} ${result.problem} (from ${setting.origin})`);
      return fallback;
    }
    parsed.set(key, result.q);
    return result.ok;
  };

  const d = DEFAULT_ENGINE_SETTINGS.resources;
  const resources: ResourceDefaults = {
    requests: {
      cpu: value('resources.requests.cpu', d.requests.cpu),
      memory: value('resources.requests.memory', d.requests.memory),
    },
    limits: {
      cpu: value('resources.limits.cpu', d.limits.cpu),
      memory: value('resources.limits.memory', d.limits.memory),
    },
  };

  for (const resource of ['cpu', 'memory'] as const) {
    const request = parsed.get(`resources.requests.${resource}`);
    const limit = parsed.get(`resources.limits.${resource}`);
    if (request !== undefined && limit !== undefined && compareQuantities(request, limit) > 0) {
      problems.push(
        `resources.requests.${resource} (${String(resources.requests[resource])}) is above ` +
          `resources.limits.${resource} (${String(resources.limits[resource])}); the API server would reject ` +
          `every pod that gets both defaults`,
      );
    }
  }
  return resources;
}
