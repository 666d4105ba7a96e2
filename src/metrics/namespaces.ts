import { Counter, type Registry } from 'prom-client';

export interface NamespaceMetrics {
  readonly namespaceLookupFailures: Counter;
  readonly namespaceWatchRestarts: Counter;
}

export function createNamespaceMetrics(registry: Registry): NamespaceMetrics {
  const namespaceLookupFailures = new Counter({
    name: 'pod_hardener_namespace_lookup_failures_total',
    help: 'Namespace lookups that failed or timed out, so the default mode applied.',
    registers: [registry],
  });
  const namespaceWatchRestarts = new Counter({
    name: 'pod_hardener_namespace_watch_restarts_total',
    help: 'Times the namespace watch failed and was restarted; lookups meanwhile use the cache or a direct GET.',
    registers: [registry],
  });
  // Zero-valued series make "absent" and "never happened" distinguishable in alerts and dashboards.
  namespaceLookupFailures.inc(0);
  namespaceWatchRestarts.inc(0);
  return { namespaceLookupFailures, namespaceWatchRestarts };
}
