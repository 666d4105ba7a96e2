/** Where `audit --apply` keeps its PolicyReports: the cluster (src/audit/kube.ts), a stub in tests. */
export interface ReportStore {
  /** Creates each report, or replaces the one an earlier run applied. */
  readonly apply: (reports: readonly Record<string, unknown>[]) => Promise<void>;
  /** Namespaces holding a report an earlier `audit --apply` left: in `namespace`, or in all of them. */
  readonly namespacesWithReports: (namespace: string | undefined) => Promise<readonly string[]>;
  /** Deletes the audit report of a namespace (no error if it is gone). */
  readonly remove: (namespace: string) => Promise<void>;
}
