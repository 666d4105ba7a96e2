import { parseArgs } from 'node:util';
import { CONFIG_FILE_ENV, CONFIG_FLAGS, type ConfigFlagName } from '../config/index.js';

export const USAGE = `Usage: pod-hardener serve [options]
       pod-hardener harden [options] [PATH...|-]
       pod-hardener fn < resource-list.yaml
       pod-hardener audit [options]
       pod-hardener --help | --version

Kubernetes mutating admission webhook that hardens pods with secure defaults.

Commands:
  serve                 run the webhook
  harden                harden the pod templates of manifests on disk or stdin,
                        as the webhook would (pod-hardener harden --help)
  fn                    the same as a KRM function: a ResourceList on stdin,
                        for kustomize and kpt (pod-hardener fn --help)
  audit                 list the cluster's pods with their recorded changes,
                        opt-outs and residual "restricted" violations
                        (pod-hardener audit --help)

Options for serve:
  --port PORT           HTTPS port (default 8443)
  --host ADDRESS        listen on this IP address only (default: every
                        interface)
  --tls-mode MODE       where the serving certificate comes from:
                          files         --tls-cert and --tls-key (the default
                                        when they are given)
                          self-signed   generated for localhost into a temp
                                        dir (the default otherwise)
                          self-managed  a CA and certificate kept in a Secret
                                        of the webhook's namespace, rotated,
                                        and written into the webhook
                                        configuration's caBundle (needs a
                                        cluster and the namespace key)
  --tls-cert FILE       serving certificate (PEM); reloaded when it changes
  --tls-key FILE        its private key (PEM)
  --config FILE         YAML configuration file (or ${CONFIG_FILE_ENV})
  --kubeconfig FILE     cluster for namespace lookups; in a pod the in-cluster
                        account is used, elsewhere lookups are off by default
  --log-level LEVEL     error, warn, info or debug (default info)
  --default-mode MODE   enforce, warn or audit (default enforce)

Every configuration key can also be set as POD_HARDENER_<UPPER_SNAKE_KEY>,
e.g. POD_HARDENER_SHUTDOWN_DELAY_SECONDS=0. Flags beat the environment, which
beats the file.
`;

export type ConfigFlags = Readonly<Partial<Record<ConfigFlagName, string>>>;

/**
 * What the command line asks for. --help wins over --version, and both over the command, wherever
 * they appear. misuse: flags that do not parse, an unknown command, or none (`problem` is then unset).
 */
export type Invocation =
  | { readonly kind: 'help' }
  | { readonly kind: 'version' }
  | { readonly kind: 'serve'; readonly configFlags: ConfigFlags }
  /** `harden` parses its own arguments (src/cli/harden.ts), which follow the command. */
  | { readonly kind: 'harden'; readonly argv: readonly string[] }
  /** `fn` (the KRM function, src/cli/fn.ts) takes no options but --help. */
  | { readonly kind: 'fn'; readonly argv: readonly string[] }
  /** `audit` (src/cli/audit.ts) parses its own arguments. */
  | { readonly kind: 'audit'; readonly argv: readonly string[] }
  | { readonly kind: 'misuse'; readonly problem?: string };

export function parseArguments(argv: readonly string[]): Invocation {
  if (argv[0] === 'harden') return { kind: 'harden', argv: argv.slice(1) };
  if (argv[0] === 'fn') return { kind: 'fn', argv: argv.slice(1) };
  if (argv[0] === 'audit') return { kind: 'audit', argv: argv.slice(1) };
  let command: string | undefined;
  let flags: Record<string, string | boolean | undefined>;
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options: {
        ...Object.fromEntries(
          [...Object.keys(CONFIG_FLAGS), 'config'].map((name) => [name, { type: 'string' as const }]),
        ),
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
      allowPositionals: true,
      strict: true,
    });
    if (positionals.length > 1) {
      return { kind: 'misuse', problem: `unexpected argument "${positionals[1] ?? ''}"` };
    }
    command = positionals[0];
    flags = values;
  } catch (err) {
    return { kind: 'misuse', problem: err instanceof Error ? err.message : String(err) };
  }

  if (flags.help === true) return { kind: 'help' };
  if (flags.version === true) return { kind: 'version' };
  if (command === undefined) return { kind: 'misuse' };
  if (command === 'harden' || command === 'fn' || command === 'audit')
    return { kind: 'misuse', problem: `${command} must come first; its options follow it` };
  if (command !== 'serve') return { kind: 'misuse', problem: `unknown command "${command}"` };
  return { kind: 'serve', configFlags: stringFlags(flags) };
}

function stringFlags(flags: Record<string, string | boolean | undefined>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(flags).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
  );
}
