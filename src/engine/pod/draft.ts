/**
 * The draft a hardening pass writes: a copy of the pod that shares with the input everything the pass
 * does not change. Only the pod, its metadata, its spec, the container lists and each container are
 * copied up front (one level each); any deeper object or array is copied the first time a write reaches
 * it (writeField and appendTo, which the recorder calls). The input is never modified, and the diff
 * skips every subtree still shared by identity, so an env list, a probe or a projected volume costs
 * neither a copy nor a walk.
 *
 * Which objects a pass may change in place is kept per pass: a second pass over a first pass's draft
 * (reinvocation, the idempotency checks) must copy what the first one wrote, not change it.
 */
import { isJsonObject, type JsonObject } from './json.js';
import { CONTAINER_LISTS, type Container, type Pod } from './model.js';

/**
 * For each object a pass owns that controls write under (its spec and containers): the set of all the
 * objects that pass owns.
 */
const passOwning = new WeakMap<object, WeakSet<object>>();

/**
 * A spread, not Object.assign: a `__proto__` key that JSON.parse made an own property stays one. The
 * model's types are classes, but what the engine reviews is always parsed JSON, plain objects.
 */
function shallowCopy<T extends object>(value: T): T {
  return { ...(value as JsonObject) } as T;
}

export function draftOf(pod: Pod): Pod {
  const draft = shallowCopy(pod);
  if (isJsonObject(pod.metadata)) draft.metadata = shallowCopy(pod.metadata);
  if (!isJsonObject(pod.spec)) return draft;
  const owned = new WeakSet<object>();
  const own = <T extends object>(value: T): T => {
    owned.add(value);
    passOwning.set(value, owned);
    return value;
  };
  const spec = own(shallowCopy(pod.spec));
  for (const list of CONTAINER_LISTS) {
    const containers: unknown = spec[list];
    if (!Array.isArray(containers)) continue;
    // A container that is not an object never reaches a control (pod/shape.ts); it is kept as it is.
    const copies: unknown[] = containers.map((c: unknown) => (isJsonObject(c) ? own(shallowCopy(c)) : c));
    spec[list] = own(copies) as Container[];
  }
  draft.spec = spec;
  return draft;
}

/**
 * Whether `value`, reached from `root`, may be changed in place. Outside a draft (a control's table test
 * on a plain pod) everything may.
 */
function writableInPlace(root: object, value: object): boolean {
  const owned = passOwning.get(root);
  return owned === undefined || owned.has(value);
}

function claim<T extends object>(root: object, value: T): T {
  passOwning.get(root)?.add(value);
  return value;
}

/**
 * The object that holds the last of `keys` under `root`, ready to be written: each object on the way
 * that is still shared with the input is replaced by a shallow copy, and a missing step (or one that is
 * not an object) by a new object.
 */
function writableParent(root: object, keys: readonly string[]): JsonObject {
  let parent = root as JsonObject;
  for (let i = 0; i < keys.length - 1; i++) {
    const key = keys[i] ?? '';
    const next = parent[key];
    if (isJsonObject(next) && writableInPlace(root, next)) {
      parent = next;
      continue;
    }
    const copy = claim(root, isJsonObject(next) ? shallowCopy(next) : {});
    parent[key] = copy;
    parent = copy;
  }
  return parent;
}

const lastOf = (keys: readonly string[]): string => keys[keys.length - 1] ?? '';

/** Sets `root.keys...` to `value`, which becomes the pass's own: a later append to it writes in place. */
export function writeField(root: object, keys: readonly string[], value: unknown): void {
  writableParent(root, keys)[lastOf(keys)] = value;
  if (typeof value === 'object' && value !== null) claim(root, value);
}

/** Appends `value` to `array`, the list at `root.keys...`; returns the new length. */
export function appendTo(
  root: object,
  keys: readonly string[],
  array: readonly unknown[],
  value: unknown,
): number {
  if (writableInPlace(root, array)) return (array as unknown[]).push(value);
  const copy = claim(root, [...array, value]);
  writableParent(root, keys)[lastOf(keys)] = copy;
  return copy.length;
}
