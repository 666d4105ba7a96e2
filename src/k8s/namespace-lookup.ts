import type { V1Namespace } from '@kubernetes/client-node';
import type { NamespaceInfo, NamespaceLookup } from '../engine/index.js';
import { describeError, httpStatusOf } from './requests.js';

export type FoundLookup = Extract<NamespaceLookup, { kind: 'found' }>;

/**
 * Short enough that a namespace created right after a miss is seen almost at once even while the watch is
 * down, long enough to absorb a burst of reviews for a name that really does not exist.
 */
export const NOT_FOUND_TTL_MS = 1_000;

const NOT_FOUND: Extract<NamespaceLookup, { kind: 'not-found' }> = Object.freeze({ kind: 'not-found' });
const EMPTY: Readonly<Record<string, string>> = Object.freeze({});
// RFC 1123 label, which is what the API server enforces for namespace names.
const NAMESPACE_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function copyStrings(record: unknown): Readonly<Record<string, string>> {
  if (record === null || typeof record !== 'object') return EMPTY;
  const out: Record<string, string> = {};
  let any = false;
  for (const [key, value] of Object.entries(record)) {
    // Watch events are raw JSON rather than deserialized models, so the declared types are not a guarantee.
    if (typeof value === 'string') {
      out[key] = value;
      any = true;
    }
  }
  return any ? Object.freeze(out) : EMPTY;
}

/** Copies (and freezes) only what reviews need, so the cache never aliases objects the informer may mutate. */
export function toNamespaceInfo(namespace: Pick<V1Namespace, 'metadata'> | undefined): NamespaceInfo {
  return Object.freeze({
    labels: copyStrings(namespace?.metadata?.labels),
    annotations: copyStrings(namespace?.metadata?.annotations),
  });
}

export function foundLookup(namespace: Pick<V1Namespace, 'metadata'> | undefined): FoundLookup {
  return Object.freeze({ kind: 'found', namespace: toNamespaceInfo(namespace) });
}

export function isValidNamespaceName(name: string): boolean {
  return NAMESPACE_NAME.test(name);
}

export interface LookupState {
  readonly cached: FoundLookup | undefined;
  /** Epoch ms until which a recent 404 for this name is trusted. */
  readonly notFoundUntil: number | undefined;
  readonly inFlight: Promise<NamespaceLookup> | undefined;
}

export type LookupPlan =
  | { readonly kind: 'answer'; readonly lookup: NamespaceLookup }
  | { readonly kind: 'join'; readonly pending: Promise<NamespaceLookup> }
  | { readonly kind: 'fetch' };

/**
 * The informer cache wins over everything: it is updated by the watch, so it also overrides a 404 that has
 * since been followed by a create. Only then are a fresh 404, a GET already under way, or a new GET used.
 */
export function planLookup(name: string, state: LookupState, now: number): LookupPlan {
  if (state.cached !== undefined) return { kind: 'answer', lookup: state.cached };
  // Such a name cannot exist, and asking the API server would only produce a confusing 'failed'.
  if (!isValidNamespaceName(name)) return { kind: 'answer', lookup: NOT_FOUND };
  if (state.notFoundUntil !== undefined && state.notFoundUntil > now) {
    return { kind: 'answer', lookup: NOT_FOUND };
  }
  if (state.inFlight !== undefined) return { kind: 'join', pending: state.inFlight };
  return { kind: 'fetch' };
}

/** Maps a failed GET to the lookup result: only a 404 means the namespace is known not to exist. */
export function lookupFromError(err: unknown): Extract<NamespaceLookup, { kind: 'not-found' | 'failed' }> {
  if (httpStatusOf(err) === 404) return NOT_FOUND;
  return { kind: 'failed', reason: describeError(err) };
}
