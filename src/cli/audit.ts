/** `pod-hardener audit`: the cluster's pods, what the webhook changed, what opted out, what still violates. */
import { parseArgs } from 'node:util';
import type { ReportStore } from '../audit/report-store.js';
import { DEFAULT_ENGINE_SETTINGS, type EngineSettings } from '../engine/index.js';
import { InputError } from '../offline/input-error.js';
import { engineSettingsFrom } from './config-file.js';
import { auditCluster, type PodLister } from '../audit/summarise.js';
import { auditJson, auditPolicyReportObjects, auditPolicyReports, auditTable } from '../audit/render.js';

export const AUDIT_USAGE = `Usage: pod-hardener audit [--kubeconfig FILE] [--config FILE] [-n NAMESPACE]
                          [--output table|json|policyreport] [--apply]

Lists the pods of the cluster (or of one namespace) with what pod-hardener recorded on them: the
changes by control (the changes annotation; a changes-seal is reported as present, it cannot be
verified without the webhook's key), the opt-outs, and the Pod Security "restricted" violations the
stored pod still has.

Options:
  --kubeconfig FILE     cluster to read (default: KUBECONFIG or ~/.kube/config)
  --config FILE         the webhook's configuration file: its annotationPrefix names
                        the annotations read, and a control in disabledControls is
                        reported as skipped (environment variables are not read)
  -n, --namespace NS    one namespace (default: all)
  -o, --output FORMAT   table (default), json, or policyreport (one wgpolicyk8s.io/v1alpha2
                        PolicyReport per namespace, as harden --report policyreport)
  --apply               with policyreport: create or replace the reports in the cluster
                        (server-side apply, field manager pod-hardener), and delete
                        the report an earlier --apply left in a namespace of the scope
                        that has no pods any more
  -h, --help            this help
`;

export type AuditOutput = 'table' | 'json' | 'policyreport';

export interface AuditInvocation {
  readonly kubeconfig?: string;
  readonly config?: string;
  readonly namespace?: string;
  readonly output: AuditOutput;
  readonly apply: boolean;
}

export type ParsedAudit =
  | { readonly kind: 'help' }
  | { readonly kind: 'misuse'; readonly problem: string }
  | { readonly kind: 'audit'; readonly invocation: AuditInvocation };

export function parseAuditArguments(argv: readonly string[]): ParsedAudit {
  let values: Record<string, string | boolean | undefined>;
  try {
    const parsed = parseArgs({
      args: [...argv],
      options: {
        kubeconfig: { type: 'string' },
        config: { type: 'string' },
        namespace: { type: 'string', short: 'n' },
        output: { type: 'string', short: 'o' },
        apply: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: false,
      strict: true,
    });
    values = parsed.values;
  } catch (err) {
    return { kind: 'misuse', problem: err instanceof Error ? err.message : String(err) };
  }
  if (values.help === true) return { kind: 'help' };
  const output = (values.output ?? 'table') as string;
  if (output !== 'table' && output !== 'json' && output !== 'policyreport') {
    return { kind: 'misuse', problem: `--output must be table, json or policyreport, not "${output}"` };
  }
  const apply = values.apply === true;
  if (apply && output !== 'policyreport') {
    return { kind: 'misuse', problem: '--apply needs --output policyreport' };
  }
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  const kubeconfig = str(values.kubeconfig);
  const namespace = str(values.namespace);
  const config = str(values.config);
  return {
    kind: 'audit',
    invocation: {
      output,
      apply,
      ...(kubeconfig === undefined ? {} : { kubeconfig }),
      ...(config === undefined ? {} : { config }),
      ...(namespace === undefined ? {} : { namespace }),
    },
  };
}

export interface AuditDeps {
  readonly list: PodLister;
  readonly reports: ReportStore;
  /** From --config: the annotation prefix and the disabled controls. */
  readonly settings?: EngineSettings;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly now?: Date;
}

export async function runAudit(invocation: AuditInvocation, deps: AuditDeps): Promise<number> {
  const settings = deps.settings ?? DEFAULT_ENGINE_SETTINGS;
  const audits = await auditCluster(deps.list, invocation.namespace, settings);
  const now = deps.now ?? new Date();
  const disabled = settings.disabledControls;
  switch (invocation.output) {
    case 'table':
      deps.stdout(auditTable(audits));
      break;
    case 'json':
      deps.stdout(auditJson(audits));
      break;
    case 'policyreport':
      if (invocation.apply) {
        await applyReports(deps, auditPolicyReportObjects(audits, now, disabled), invocation.namespace);
      } else {
        deps.stdout(auditPolicyReports(audits, now, disabled));
      }
      break;
  }
  return 0;
}

/**
 * Applies a report per namespace with pods, and deletes the audit's earlier report of every namespace
 * in scope that has no pods any more: its results would name pods that are gone.
 */
async function applyReports(
  deps: AuditDeps,
  reports: readonly Record<string, unknown>[],
  scope: string | undefined,
): Promise<void> {
  await deps.reports.apply(reports);
  const current = new Set(reports.map((r) => (r.metadata as { namespace: string }).namespace));
  const stale = (await deps.reports.namespacesWithReports(scope)).filter((ns) => !current.has(ns));
  for (const namespace of stale) await deps.reports.remove(namespace);
  deps.stderr(
    `pod-hardener audit: applied ${reports.length} PolicyReport(s)` +
      (stale.length === 0
        ? ''
        : `, deleted ${stale.length} of namespaces without pods (${stale.join(', ')})`) +
      '\n',
  );
}

/** The CLI entry: the Kubernetes client is loaded here, by this command only. */
export async function runAuditCommand(argv: readonly string[]): Promise<number> {
  const parsed = parseAuditArguments(argv);
  if (parsed.kind === 'help') {
    process.stdout.write(AUDIT_USAGE);
    return 0;
  }
  if (parsed.kind === 'misuse') {
    process.stderr.write(`pod-hardener audit: ${parsed.problem}\n\n${AUDIT_USAGE}`);
    return 2;
  }
  let settings: EngineSettings;
  try {
    settings = await engineSettingsFrom(parsed.invocation.config, process.cwd());
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    process.stderr.write(`pod-hardener audit: ${err.message}\n`);
    return 2;
  }
  const { kubeConfigFor, podLister, reportStore } = await import('../audit/kube.js');
  const kc = kubeConfigFor(parsed.invocation.kubeconfig);
  return runAudit(parsed.invocation, {
    settings,
    list: podLister(kc),
    reports: reportStore(kc),
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  });
}
