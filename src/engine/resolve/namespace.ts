/** What the review pipeline needs to know about a pod's namespace. */
export interface NamespaceInfo {
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

export type NamespaceLookup =
  | { readonly kind: 'found'; readonly namespace: NamespaceInfo }
  | { readonly kind: 'not-found' }
  /** No cluster configured: every review is treated as coming from an opted-in namespace. */
  | { readonly kind: 'off' }
  /** The API server could not be asked in time; the configured default mode applies. */
  | { readonly kind: 'failed'; readonly reason: string };

export interface NamespaceSource {
  lookup(name: string): Promise<NamespaceLookup>;
  /** True once the cache has its initial list (always true when lookups are off). */
  synced(): boolean;
}

export const LOOKUPS_OFF: NamespaceSource = {
  lookup: () => Promise.resolve({ kind: 'off' }),
  synced: () => true,
};
