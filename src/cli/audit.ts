/** `pod-hardener audit`: the cluster's pods, what the webhook changed, what opted out, what still violates. */
import { parseArgs } from 'node:util';
import { auditCluster, type PodLister } from '../audit/summarise.js';
import { auditJson, auditPolicyReportObjects, auditPolicyReports, auditTable } from '../audit/render.js';

export const AUDIT_USAGE = `Usage: pod-hardener audit [--kubeconfig FILE] [-n NAMESPACE] [--output table|json|policyreport] [--apply]

Lists the pods of the cluster (or of one namespace) with what pod-hardener recorded on them: the
changes by control (the changes annotation; a changes-seal is reported as present, it cannot be
verified without the webhook's key), the opt-outs, and the Pod Security "restricted" violations the
stored pod still has.

Options:
  --kubeconfig FILE     cluster to read (default: KUBECONFIG or ~/.kube/config)
  -n, --namespace NS    one namespace (default: all)
  -o, --output FORMAT   table (default), json, or policyreport (one wgpolicyk8s.io/v1alpha2
                        PolicyReport per namespace, as harden --report policyreport)
  --apply               with policyreport: create or replace the reports in the cluster
                        (server-side apply, field manager pod-hardener)
`;

export type AuditOutput = 'table' | 'json' | 'policyreport';

export interface AuditInvocation {
  readonly kubeconfig?: string;
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
  return {
    kind: 'audit',
    invocation: {
      output,
      apply,
      ...(kubeconfig === undefined ? {} : { kubeconfig }),
      ...(namespace === undefined ? {} : { namespace }),
    },
  };
}

export interface AuditDeps {
  readonly list: PodLister;
  readonly apply: (reports: readonly Record<string, unknown>[]) => Promise<void>;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly now?: Date;
}

export async function runAudit(invocation: AuditInvocation, deps: AuditDeps): Promise<number> {
  const audits = await auditCluster(deps.list, invocation.namespace);
  const now = deps.now ?? new Date();
  switch (invocation.output) {
    case 'table':
      deps.stdout(auditTable(audits));
      break;
    case 'json':
      deps.stdout(auditJson(audits));
      break;
    case 'policyreport':
      if (invocation.apply) {
        const reports = auditPolicyReportObjects(audits, now);
        await deps.apply(reports);
        deps.stderr(`pod-hardener audit: applied ${reports.length} PolicyReport(s)\n`);
      } else {
        deps.stdout(auditPolicyReports(audits, now));
      }
      break;
  }
  return 0;
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
  const { kubeConfigFor, podLister, applyReports } = await import('../audit/kube.js');
  const kc = kubeConfigFor(parsed.invocation.kubeconfig);
  return runAudit(parsed.invocation, {
    list: podLister(kc),
    apply: (reports) => applyReports(kc, reports),
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  });
}
