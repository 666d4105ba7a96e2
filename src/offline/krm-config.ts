/**
 * The `functionConfig` of `pod-hardener fn`: nothing (the defaults), a ConfigMap whose `data` holds
 * `mode` and the configuration file's keys (each value read as YAML, so `runAsUser: "10001"` is a
 * number), or a `pod-hardener.io/v1alpha1` `HardenerConfig` whose `spec` is the configuration file's
 * content plus `mode`. The configuration is checked exactly as `--config` checks the file.
 */
import { parse, stringify } from 'yaml';
import {
  DEFAULT_ENGINE_SETTINGS,
  isJsonObject,
  isMode,
  type EngineSettings,
  type Mode,
} from '../engine/index.js';

export const HARDENER_CONFIG_API_VERSION = 'pod-hardener.io/v1alpha1';
export const HARDENER_CONFIG_KIND = 'HardenerConfig';

export interface FunctionSettings {
  readonly settings: EngineSettings;
  readonly mode: Mode;
}

/** A functionConfig that cannot be used; the message says why. */
export class FunctionConfigError extends Error {}

function keysOf(functionConfig: Record<string, unknown>): Record<string, unknown> {
  const { apiVersion, kind } = functionConfig;
  if (apiVersion === 'v1' && kind === 'ConfigMap') {
    const data = functionConfig.data ?? {};
    if (!isJsonObject(data)) throw new FunctionConfigError('ConfigMap data must be a mapping');
    const keys: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(data)) {
      if (typeof value !== 'string') {
        throw new FunctionConfigError(`ConfigMap data.${key} must be a string`);
      }
      try {
        keys[key] = parse(value, { prettyErrors: false }) as unknown;
      } catch (err) {
        throw new FunctionConfigError(
          `ConfigMap data.${key}: invalid YAML: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    }
    return keys;
  }
  if (apiVersion === HARDENER_CONFIG_API_VERSION && kind === HARDENER_CONFIG_KIND) {
    const spec = functionConfig.spec ?? {};
    if (!isJsonObject(spec)) throw new FunctionConfigError(`${HARDENER_CONFIG_KIND} spec must be a mapping`);
    return { ...spec };
  }
  throw new FunctionConfigError(
    `functionConfig must be a v1 ConfigMap or a ${HARDENER_CONFIG_API_VERSION} ${HARDENER_CONFIG_KIND}, not ${String(apiVersion)} ${String(kind)}`,
  );
}

export async function functionSettings(functionConfig: unknown): Promise<FunctionSettings> {
  if (functionConfig === undefined || functionConfig === null) {
    return { settings: DEFAULT_ENGINE_SETTINGS, mode: 'enforce' };
  }
  if (!isJsonObject(functionConfig)) throw new FunctionConfigError('functionConfig must be an object');
  const { mode = 'enforce', ...configKeys } = keysOf(functionConfig);
  if (typeof mode !== 'string' || !isMode(mode)) {
    throw new FunctionConfigError(`mode must be enforce, warn or audit, not ${JSON.stringify(mode)}`);
  }
  if (Object.keys(configKeys).length === 0) return { settings: DEFAULT_ENGINE_SETTINGS, mode };
  // Imported only when needed, as `harden --config` does: the config module checks server settings too.
  const { ConfigError, loadConfig } = await import('../config/index.js');
  const name = 'functionConfig';
  try {
    const config = loadConfig({
      argvFlags: { config: name },
      env: {},
      readFile: () => stringify(configKeys),
    });
    return { settings: config.engine, mode };
  } catch (err) {
    if (err instanceof ConfigError) throw new FunctionConfigError(err.message);
    throw err;
  }
}
