/** The arguments of `pod-hardener harden`, parsed without side effects. */
import { parseArgs } from 'node:util';
// The leaf module, not the engine's index: `harden --help` and bad usage answer without loading the engine.
import { isMode, type Mode } from '../engine/resolve/settings.js';

export const HARDEN_USAGE = `Usage: pod-hardener harden [options] [PATH...|-]
       kubectl pod-hardener harden [options] -f PATH

Hardens the pod template of every workload (Pod, Deployment, StatefulSet,
DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, PodTemplate) in
YAML or JSON manifests, exactly as the webhook would harden the pods made from
it, and writes the manifests back with only the changed fields added.
Comments, key order, quoting and anchors are kept; every other document is
copied byte for byte. PATH is a file or a directory (searched recursively for
*.yaml, *.yml and *.json, hidden directories skipped); - or no PATH reads
standard input.

Options:
  -f, --filename PATH   a file or directory, like a PATH argument (repeatable)
  -i, --in-place        rewrite the files instead of printing them (each
                        through a temporary file and a rename)
      --check           print what would change and exit 1 if anything
                        would; write nothing
      --diff            print a unified diff per file instead of the files
      --report FORMAT   text, json, sarif or policyreport, on standard
                        output (instead of the manifests) or --report-file
      --report-file F   write the report to F
      --mode MODE       enforce (default), warn or audit, in place of the
                        namespace's pod-hardener.io/mode; warn and audit
                        write nothing, and reports say what would change
      --config FILE     the webhook's configuration file (run-as IDs,
                        resource defaults, disabled controls, image
                        profiles, annotation prefix); environment
                        variables are not read
  -n, --namespace NS    namespace of manifests that name none (default
                        "default"), for reports
  -h, --help            this help

Exit status: 0 done (with --check: nothing to change), 1 --check found
changes, 2 bad usage or bad input (file, document and reason on stderr).
`;

const REPORT_FORMATS = ['text', 'json', 'sarif', 'policyreport'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export interface HardenInvocation {
  readonly paths: readonly string[];
  readonly inPlace: boolean;
  readonly check: boolean;
  readonly diff: boolean;
  readonly report?: ReportFormat;
  readonly reportFile?: string;
  readonly mode: Mode;
  readonly config?: string;
  readonly namespace: string;
}

export type HardenParse =
  | { readonly kind: 'harden'; readonly invocation: HardenInvocation }
  | { readonly kind: 'help' }
  | { readonly kind: 'misuse'; readonly problem: string };

export function parseHardenArguments(argv: readonly string[]): HardenParse {
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv],
      options: {
        filename: { type: 'string', short: 'f', multiple: true },
        'in-place': { type: 'boolean', short: 'i' },
        check: { type: 'boolean' },
        diff: { type: 'boolean' },
        report: { type: 'string' },
        'report-file': { type: 'string' },
        mode: { type: 'string' },
        config: { type: 'string' },
        namespace: { type: 'string', short: 'n' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    }));
  } catch (err) {
    return { kind: 'misuse', problem: err instanceof Error ? err.message : String(err) };
  }
  if (values.help === true) return { kind: 'help' };
  const paths = [...positionals, ...(values.filename ?? [])];
  if (paths.length === 0) paths.push('-');
  const mode = values.mode ?? 'enforce';
  if (!isMode(mode))
    return { kind: 'misuse', problem: `--mode must be enforce, warn or audit, not "${mode}"` };
  const report = values.report;
  if (report !== undefined && !(REPORT_FORMATS as readonly string[]).includes(report)) {
    return {
      kind: 'misuse',
      problem: `--report must be one of ${REPORT_FORMATS.join(', ')}, not "${report}"`,
    };
  }
  if (values['report-file'] !== undefined && report === undefined) {
    return { kind: 'misuse', problem: '--report-file needs --report FORMAT' };
  }
  const inPlace = values['in-place'] === true;
  const check = values.check === true;
  const diff = values.diff === true;
  if (inPlace && (check || diff)) {
    return { kind: 'misuse', problem: '--in-place writes files; --check and --diff only look' };
  }
  if (inPlace && paths.includes('-')) {
    return { kind: 'misuse', problem: '--in-place needs files, not standard input' };
  }
  if (paths.filter((p) => p === '-').length > 1) {
    return { kind: 'misuse', problem: 'standard input (-) can be read only once' };
  }
  return {
    kind: 'harden',
    invocation: {
      paths,
      inPlace,
      check,
      diff,
      ...(report === undefined ? {} : { report: report as ReportFormat }),
      ...(values['report-file'] === undefined ? {} : { reportFile: values['report-file'] }),
      mode,
      ...(values.config === undefined ? {} : { config: values.config }),
      namespace: values.namespace ?? 'default',
    },
  };
}
