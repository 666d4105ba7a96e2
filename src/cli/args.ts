import { parseArgs } from 'node:util';
// flags.js, not config/index.js: the subcommands start without loading the configuration's checks.
import { CONFIG_FILE_ENV, CONFIG_FLAGS, type ConfigFlagName } from '../config/flags.js';

export const USAGE = `Usage: pod-hardener [global options] serve [options]
       pod-hardener [global options] harden [options] [PATH...|-]
       pod-hardener fn < resource-list.yaml
       pod-hardener [global options] audit [options]
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

Global options, before the command or after it:
  --config FILE         the configuration file (serve, harden, audit)
  --kubeconfig FILE     the cluster (serve, audit)
  -h, --help            this help; with a command, the command's help
  --version             the version
serve's options below may come before it too.

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
 * What the command line asks for. --help wins over --version, and both over serve or an unknown
 * command, wherever they appear; before harden, fn or audit, --help and the global options go to
 * that command. misuse: flags that do not parse, an unknown command, or none (`problem` is then unset).
 */
export type Invocation =
  | { readonly kind: 'help' }
  | { readonly kind: 'version' }
  | { readonly kind: 'serve'; readonly configFlags: ConfigFlags }
  /** `harden` parses its own arguments (src/cli/harden.ts), with the global ones given before it. */
  | { readonly kind: 'harden'; readonly argv: readonly string[] }
  /** `fn` (the KRM function, src/cli/fn.ts) takes no options but --help. */
  | { readonly kind: 'fn'; readonly argv: readonly string[] }
  /** `audit` (src/cli/audit.ts) parses its own arguments. */
  | { readonly kind: 'audit'; readonly argv: readonly string[] }
  | { readonly kind: 'misuse'; readonly problem?: string };

const SUBCOMMANDS = ['harden', 'fn', 'audit'] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];

function isSubcommand(word: string | undefined): word is Subcommand {
  return (SUBCOMMANDS as readonly (string | undefined)[]).includes(word);
}

const GLOBAL_VALUE_FLAGS: ReadonlySet<string> = new Set(
  [...Object.keys(CONFIG_FLAGS), 'config'].map((name) => `--${name}`),
);
const GLOBAL_BOOLEAN_FLAGS: ReadonlySet<string> = new Set(['--help', '-h', '--version']);

/**
 * The global options before a subcommand (`pod-hardener --config c.yaml harden f.yaml`), and where
 * the command is; undefined when the arguments do not start with known global options and then a
 * subcommand (serve's full parse below deals with them).
 */
function leadingOptions(
  argv: readonly string[],
): { readonly command: Subcommand; readonly leading: string[]; readonly rest: string[] } | undefined {
  const leading: string[] = [];
  let i = 0;
  while (i < argv.length) {
    const arg = argv[i] ?? '';
    const name = arg.split('=')[0] ?? arg;
    if (GLOBAL_BOOLEAN_FLAGS.has(arg)) {
      leading.push(arg);
      i += 1;
    } else if (GLOBAL_VALUE_FLAGS.has(name)) {
      const takesNext = !arg.includes('=');
      if (takesNext && i + 1 >= argv.length) return undefined;
      leading.push(...argv.slice(i, takesNext ? i + 2 : i + 1));
      i += takesNext ? 2 : 1;
    } else break;
  }
  const command = argv[i];
  return isSubcommand(command) ? { command, leading, rest: argv.slice(i + 1) } : undefined;
}

export function parseArguments(argv: readonly string[]): Invocation {
  const sub = leadingOptions(argv);
  if (sub !== undefined) {
    // --version before a subcommand is the program's; --help goes to the command, whose help it is.
    if (sub.leading.includes('--version') && !sub.leading.some((a) => a === '--help' || a === '-h')) {
      return { kind: 'version' };
    }
    const passed = sub.leading.filter((a) => a !== '--version');
    return { kind: sub.command, argv: [...passed, ...sub.rest] };
  }
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
  if (isSubcommand(command)) {
    return { kind: 'misuse', problem: `only global options may come before ${command}` };
  }
  if (command !== 'serve') return { kind: 'misuse', problem: `unknown command "${command}"` };
  return { kind: 'serve', configFlags: stringFlags(flags) };
}

function stringFlags(flags: Record<string, string | boolean | undefined>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(flags).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
  );
}
