import { parseDocument } from 'yaml';
import { isJsonObject } from '../engine/index.js';
import { show } from './checks.js';
import { CONFIG_FLAGS, type ConfigFlagName } from './flags.js';
import {
  LIST_KEYS,
  SCALAR_KEYS,
  type Key,
  type ListKey,
  type ResourceKey,
  type ScalarKey,
} from './schema.js';

export { CONFIG_FILE_ENV, CONFIG_FLAGS, type ConfigFlagName } from './flags.js';

/** Keys a YAML file may set at its top level. */
export const FILE_KEYS: ReadonlySet<string> = new Set<string>([
  ...SCALAR_KEYS,
  ...LIST_KEYS,
  'resources',
  'imageProfiles',
]);

export function envVarName(key: string): string {
  return `POD_HARDENER_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

/** A raw value and where it came from, so a problem can name the source the operator has to fix. */
export interface Setting {
  readonly value: unknown;
  readonly origin: string;
}

// The kubelet injects `<SERVICE>_PORT=tcp://10.0.0.1:443` for every Service in the namespace (service
// links); a Service named pod-hardener therefore sets POD_HARDENER_PORT to something that is not ours.
const SERVICE_LINK_RE = /^(tcp|udp|sctp):\/\//;

function unknownKeyProblem(origin: string, path: string, known: Iterable<string>): string {
  const lower = path.slice(path.lastIndexOf('.') + 1).toLowerCase();
  const hint = [...known].find((k) => k.toLowerCase() === lower);
  return `${origin}: unknown key "${path}"${hint === undefined ? '' : ` (did you mean "${hint}"?)`}`;
}

/** Reads the YAML file into `settings`; problems are collected, never thrown. */
export function readConfigFile(
  file: string,
  readFile: (path: string) => string,
  settings: Map<Key, Setting>,
  problems: string[],
): void {
  let text: string;
  try {
    text = readFile(file);
  } catch (err) {
    problems.push(`cannot read config file ${file}: ${err instanceof Error ? err.message : String(err)}`);
    return;
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    for (const e of doc.errors) problems.push(`${file}: invalid YAML: ${e.message}`);
    return;
  }
  let root: unknown;
  try {
    root = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    problems.push(`${file}: invalid YAML: ${err instanceof Error ? err.message : String(err)}`);
    return;
  }
  if (root === null || root === undefined) return;
  if (!isJsonObject(root)) {
    problems.push(
      `${file}: must be a YAML mapping of settings, got ${Array.isArray(root) ? 'a list' : show(root)}`,
    );
    return;
  }

  for (const [key, value] of Object.entries(root)) {
    if (!FILE_KEYS.has(key)) {
      problems.push(unknownKeyProblem(file, key, FILE_KEYS));
    } else if (key === 'resources') {
      readResources(file, value, settings, problems);
    } else if (value !== null) {
      // null (an empty value, as a Helm template renders an unset value) means "keep the default".
      settings.set(key as ScalarKey | ListKey, { value, origin: `${file}: ${key}` });
    }
  }
}

function readResources(file: string, value: unknown, settings: Map<Key, Setting>, problems: string[]): void {
  if (value === null) return;
  if (!isJsonObject(value)) {
    problems.push(`${file}: resources must be a mapping with requests and limits, got ${show(value)}`);
    return;
  }
  for (const [group, inner] of Object.entries(value)) {
    if (group !== 'requests' && group !== 'limits') {
      problems.push(unknownKeyProblem(file, `resources.${group}`, ['requests', 'limits']));
      continue;
    }
    if (inner === null) continue;
    if (!isJsonObject(inner)) {
      problems.push(`${file}: resources.${group} must be a mapping with cpu and memory, got ${show(inner)}`);
      continue;
    }
    for (const [resource, quantity] of Object.entries(inner)) {
      const path = `resources.${group}.${resource}`;
      if (resource !== 'cpu' && resource !== 'memory') {
        problems.push(unknownKeyProblem(file, path, ['cpu', 'memory']));
        continue;
      }
      settings.set(path as ResourceKey, { value: quantity, origin: `${file}: ${path}` });
    }
  }
}

export function environmentValue(
  env: Readonly<Record<string, string | undefined>>,
  name: string,
): string | undefined {
  const v = env[name];
  // Manifests often render an unset value as an empty string; that means "not set", not "empty".
  return v === undefined || v.trim() === '' ? undefined : v;
}

/** Reads every POD_HARDENER_* variable into `settings`, over what the file set. */
export function readEnvironment(
  env: Readonly<Record<string, string | undefined>>,
  settings: Map<Key, Setting>,
): void {
  for (const key of [...SCALAR_KEYS, ...LIST_KEYS] as const) {
    const name = envVarName(key);
    const value = environmentValue(env, name);
    if (value === undefined) continue;
    if (key === 'port' && SERVICE_LINK_RE.test(value)) continue;
    settings.set(key, { value, origin: `env ${name}` });
  }
}

/** Reads the command-line flags into `settings`, over the file and the environment. */
export function readFlags(
  flags: Readonly<Partial<Record<ConfigFlagName, string>>>,
  settings: Map<Key, Setting>,
): void {
  for (const [flag, key] of Object.entries(CONFIG_FLAGS) as [keyof typeof CONFIG_FLAGS, ScalarKey][]) {
    const value = flags[flag];
    if (value !== undefined) settings.set(key, { value, origin: `--${flag}` });
  }
}
