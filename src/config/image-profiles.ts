/**
 * `imageProfiles`: what the cluster admin says once about an image. A YAML list in the config file
 * only (no environment variable). Every problem is reported at start, with the profile's index and
 * name, like every other key.
 */
import {
  CONTROL_IDS,
  MAX_WRITABLE_PATHS,
  compareQuantities,
  imageGlobProblem,
  isControlId,
  isJsonObject,
  normaliseMountPath,
  unsafeWritablePath,
  type ControlId,
  type ImageProfile,
  type Quantity,
} from '../engine/index.js';
import { positiveQuantity, show } from './checks.js';

export const PROFILE_KEYS = [
  'name',
  'images',
  'runAsUser',
  'runAsGroup',
  'runAsRoot',
  'writablePaths',
  'keepCapabilities',
  'skipControls',
  'resources',
] as const;

// Names appear in annotations, audit annotations and log lines: a DNS-label-like word.
const NAME_RE = /^[a-z0-9]([-a-z0-9._]{0,61}[a-z0-9])?$/;
// Linux capability names as the API takes them (NET_BIND_SERVICE; runtimes also accept CAP_...).
const CAPABILITY_RE = /^[A-Z][A-Z0-9_]*$/;
const MAX_ID = 2147483647;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Validates the list; pushes one problem per mistake and returns the profiles that are valid. */
export function checkImageProfiles(value: unknown, origin: string, problems: string[]): ImageProfile[] {
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value)) {
    problems.push(`imageProfiles must be a list of profiles, got ${show(value)} (from ${origin})`);
    return [];
  }
  const profiles: ImageProfile[] = [];
  const names = new Set<string>();
  (value as unknown[]).forEach((raw, index) => {
    const before = problems.length;
    const profile = checkProfile(raw, index, origin, problems);
    if (profile === undefined) return;
    if (names.has(profile.name))
      problems.push(`imageProfiles[${index}].name "${profile.name}" is used twice (from ${origin})`);
    names.add(profile.name);
    if (problems.length === before) profiles.push(profile);
  });
  return profiles;
}

function checkProfile(
  raw: unknown,
  index: number,
  origin: string,
  problems: string[],
): ImageProfile | undefined {
  if (!isJsonObject(raw)) {
    problems.push(`imageProfiles[${index}] must be a mapping, got ${show(raw)} (from ${origin})`);
    return undefined;
  }
  const label =
    typeof raw.name === 'string' ? `imageProfiles[${index}] (${raw.name})` : `imageProfiles[${index}]`;
  const problem = (field: string, text: string): void => {
    problems.push(`${label}.${field} ${text} (from ${origin})`);
  };
  for (const key of Object.keys(raw)) {
    if (!(PROFILE_KEYS as readonly string[]).includes(key)) {
      const hint = PROFILE_KEYS.find((k) => k.toLowerCase() === key.toLowerCase());
      problems.push(
        `${label}: unknown key "${key}"${hint === undefined ? '' : ` (did you mean "${hint}"?)`} ` +
          `(known: ${PROFILE_KEYS.join(', ')}) (from ${origin})`,
      );
    }
  }

  const profile: Mutable<ImageProfile> = { name: '', images: [] };
  if (typeof raw.name === 'string' && NAME_RE.test(raw.name)) profile.name = raw.name;
  else
    problem(
      'name',
      `is required: lowercase letters, digits, '-', '.' and '_', starting and ending with a letter or ` +
        `digit, at most 63 characters; got ${show(raw.name)}`,
    );

  const images = stringList(raw.images);
  if (images === undefined || images.length === 0) {
    problem('images', `must be a non-empty list of globs, got ${show(raw.images)}`);
  } else {
    for (const glob of images) {
      const why = imageGlobProblem(glob);
      if (why !== undefined) problem('images', `glob ${show(glob)} ${why}`);
    }
    profile.images = images;
  }

  const id = (field: 'runAsUser' | 'runAsGroup'): number | undefined => {
    const v = raw[field];
    if (v === undefined || v === null) return undefined;
    if (v === 0)
      problem(
        field,
        'must not be 0 (root); for an image that must run as root, write runAsRoot: true instead',
      );
    else if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1 || v > MAX_ID)
      problem(field, `must be a positive integer up to ${MAX_ID}, got ${show(v)}`);
    else return v;
    return undefined;
  };
  const runAsUser = id('runAsUser');
  const runAsGroup = id('runAsGroup');
  if (runAsUser !== undefined) profile.runAsUser = runAsUser;
  if (runAsGroup !== undefined) profile.runAsGroup = runAsGroup;

  if (raw.runAsRoot !== undefined && raw.runAsRoot !== null) {
    if (typeof raw.runAsRoot !== 'boolean')
      problem('runAsRoot', `must be true or false, got ${show(raw.runAsRoot)}`);
    else if (raw.runAsRoot && (raw.runAsUser !== undefined || raw.runAsGroup !== undefined))
      problem(
        'runAsRoot',
        'cannot go with runAsUser or runAsGroup: the image runs as root, as its image says',
      );
    else if (raw.runAsRoot) profile.runAsRoot = true;
  }

  if (raw.writablePaths !== undefined && raw.writablePaths !== null) {
    const paths = stringList(raw.writablePaths);
    if (paths === undefined)
      problem('writablePaths', `must be a list of absolute paths, got ${show(raw.writablePaths)}`);
    else {
      if (paths.length > MAX_WRITABLE_PATHS)
        problem('writablePaths', `has ${paths.length} entries; at most ${MAX_WRITABLE_PATHS}`);
      const normalised: string[] = [];
      for (const path of paths) {
        const n = normaliseMountPath(path);
        const unsafe = n === undefined ? undefined : unsafeWritablePath(n);
        if (n === undefined)
          problem('writablePaths', `entry ${show(path)} is not an absolute path below / (no '..' or ':')`);
        else if (unsafe !== undefined) problem('writablePaths', `entry ${show(path)} is refused: ${unsafe}`);
        else if (!normalised.includes(n)) normalised.push(n);
      }
      profile.writablePaths = normalised;
    }
  }

  if (raw.keepCapabilities !== undefined && raw.keepCapabilities !== null) {
    const caps = stringList(raw.keepCapabilities);
    if (caps === undefined)
      problem('keepCapabilities', `must be a list of capability names, got ${show(raw.keepCapabilities)}`);
    else {
      for (const cap of caps) {
        if (cap === 'ALL') problem('keepCapabilities', 'must not contain ALL: that would undo the drop');
        else if (!CAPABILITY_RE.test(cap))
          problem('keepCapabilities', `entry ${show(cap)} is not a capability name such as NET_BIND_SERVICE`);
      }
      profile.keepCapabilities = [...new Set(caps)];
    }
  }

  if (raw.skipControls !== undefined && raw.skipControls !== null) {
    const controls = stringList(raw.skipControls);
    const unknown = (controls ?? []).filter((c) => !isControlId(c));
    if (controls === undefined)
      problem('skipControls', `must be a list of control ids, got ${show(raw.skipControls)}`);
    else if (unknown.length > 0)
      problem(
        'skipControls',
        `has unknown control id ${unknown.map(show).join(', ')} (known: ${CONTROL_IDS.join(', ')})`,
      );
    else profile.skipControls = [...new Set(controls as ControlId[])];
  }

  if (raw.resources !== undefined && raw.resources !== null) {
    const resources = checkResources(raw.resources, problem);
    if (resources !== undefined) profile.resources = resources;
  }
  return profile;
}

function checkResources(
  raw: unknown,
  problem: (field: string, text: string) => void,
): ImageProfile['resources'] | undefined {
  if (!isJsonObject(raw)) {
    problem('resources', `must be a mapping with requests and limits, got ${show(raw)}`);
    return undefined;
  }
  const parsed = new Map<string, Quantity>();
  const out: { requests?: { cpu?: string; memory?: string }; limits?: { cpu?: string; memory?: string } } =
    {};
  for (const [group, inner] of Object.entries(raw)) {
    if (group !== 'requests' && group !== 'limits') {
      problem('resources', `has unknown key "${group}" (known: requests, limits)`);
      continue;
    }
    if (inner === null || inner === undefined) continue;
    if (!isJsonObject(inner)) {
      problem(`resources.${group}`, `must be a mapping with cpu and memory, got ${show(inner)}`);
      continue;
    }
    const values: { cpu?: string; memory?: string } = {};
    for (const [resource, quantity] of Object.entries(inner)) {
      if (resource !== 'cpu' && resource !== 'memory') {
        problem(`resources.${group}`, `has unknown key "${resource}" (known: cpu, memory)`);
        continue;
      }
      const result = positiveQuantity(quantity);
      if ('problem' in result) problem(`resources.${group}.${resource}`, result.problem);
      else {
        values[resource] = result.ok;
        parsed.set(`${group}.${resource}`, result.q);
      }
    }
    out[group] = values;
  }
  for (const resource of ['cpu', 'memory'] as const) {
    const request = parsed.get(`requests.${resource}`);
    const limit = parsed.get(`limits.${resource}`);
    if (request !== undefined && limit !== undefined && compareQuantities(request, limit) > 0)
      problem(`resources.requests.${resource}`, `is above resources.limits.${resource}`);
  }
  return out;
}

function stringList(value: unknown): string[] | undefined {
  if (!Array.isArray(value)) return undefined;
  return (value as unknown[]).every((item) => typeof item === 'string') ? (value as string[]) : undefined;
}
