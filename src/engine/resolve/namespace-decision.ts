import { keysFor } from './keys.js';
import { quoteShort } from './lists.js';
import type { NamespaceLookup } from './namespace.js';
import { isMode, type EngineSettings, type Mode } from './settings.js';

export type NamespaceDecision =
  | { readonly optedIn: false }
  | {
      readonly optedIn: true;
      readonly mode: Mode;
      readonly allowOptOut: boolean;
      readonly warnings: string[];
    };

/**
 * The server re-checks the opt-in label itself so that a webhook configuration with a wrong
 * namespaceSelector cannot harden namespaces that never asked for it.
 */
export function decideNamespace(
  lookup: NamespaceLookup,
  namespaceName: string,
  settings: EngineSettings,
): NamespaceDecision {
  const keys = keysFor(settings.annotationPrefix);
  switch (lookup.kind) {
    case 'off':
    case 'failed':
      return { optedIn: true, mode: settings.defaultMode, allowOptOut: true, warnings: [] };
    case 'not-found':
      return { optedIn: false };
    case 'found':
      break;
  }
  const { labels, annotations } = lookup.namespace;
  if (labels[keys.enabled] !== 'true') return { optedIn: false };
  const warnings: string[] = [];
  let mode = settings.defaultMode;
  const modeValue = annotations[keys.mode];
  if (modeValue !== undefined) {
    if (isMode(modeValue)) mode = modeValue;
    else
      warnings.push(
        `namespace ${namespaceName}: ${keys.mode}=${quoteShort(modeValue)} is not enforce, warn or audit; using ${mode}`,
      );
  }
  const allowValue = annotations[keys.allowOptOut];
  if (allowValue !== undefined && allowValue !== 'true' && allowValue !== 'false') {
    // Fail closed: a typo must not silently let pods relax hardening.
    warnings.push(
      `namespace ${namespaceName}: ${keys.allowOptOut}=${quoteShort(allowValue)} is not "true" or "false"; opt-outs are not allowed`,
    );
  }
  return { optedIn: true, mode, allowOptOut: allowValue === undefined || allowValue === 'true', warnings };
}
