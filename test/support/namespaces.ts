import type { NamespaceInfo, NamespaceSource } from '../../src/engine/resolve/namespace.js';

/** A namespace source answering from a fixed table, as the informer cache would. */
export function staticNamespaces(table: Readonly<Record<string, NamespaceInfo>>): NamespaceSource {
  return {
    lookup: (name) => {
      const namespace = table[name];
      return Promise.resolve(namespace ? { kind: 'found', namespace } : { kind: 'not-found' });
    },
    synced: () => true,
  };
}
