/**
 * `pod-hardener fn`: the KRM function (src/offline/krm.ts) on standard input and output, for
 * `kustomize build --enable-alpha-plugins --enable-exec` and kpt. Loads what `harden` loads, no more.
 */
import { runFunction } from '../offline/krm.js';

export const FN_USAGE = `Usage: pod-hardener fn < resource-list.yaml

A KRM function (KRM Functions Specification, config.kubernetes.io/v1
ResourceList): reads a ResourceList on standard input and writes it to
standard output with the pod template of every workload item hardened as
\`pod-hardener harden\` hardens it, every other item unchanged, and results
(resource, file, field path and proposed value, severity) appended.

functionConfig (optional):
  a v1 ConfigMap       data: mode (enforce, warn or audit) and any key of the
                       webhook's configuration file, each value read as YAML
  a pod-hardener.io/v1alpha1 HardenerConfig
                       spec: mode and the configuration file's content

Options:
  -h, --help           this help

Exit status: 0, or 1 when a result has severity error: a pod the webhook
would deny, input that is not a ResourceList, a bad functionConfig or a
malformed pod template (then the items are written back unchanged).
2 for bad usage.
`;

export interface FnIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly readStdin: () => Promise<string>;
}

export async function runFn(argv: readonly string[], io: FnIo): Promise<number> {
  if (argv.includes('-h') || argv.includes('--help')) {
    io.stdout(FN_USAGE);
    return 0;
  }
  if (argv.some((arg) => arg === '--config' || arg.startsWith('--config='))) {
    io.stderr(
      `pod-hardener fn: the configuration comes from the ResourceList's functionConfig, not --config\n\n${FN_USAGE}`,
    );
    return 2;
  }
  if (argv.length > 0) {
    io.stderr(`pod-hardener fn: unexpected argument "${argv[0] ?? ''}"\n\n${FN_USAGE}`);
    return 2;
  }
  const run = await runFunction(await io.readStdin());
  io.stdout(run.output);
  for (const result of run.results) {
    if (result.severity !== 'error') continue;
    const ref = result.resourceRef;
    const where =
      ref === undefined
        ? ''
        : `${ref.kind} ${ref.namespace ?? ''}${ref.namespace === undefined ? '' : '/'}${ref.name}: `;
    io.stderr(`pod-hardener fn: ${where}${result.message}\n`);
  }
  return run.exitCode;
}
