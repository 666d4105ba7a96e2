/**
 * The configuration's command-line flags, apart from the rest of the configuration code: the CLI's
 * argument parser needs only these names, and `harden`, `fn` and `audit` must not load the checks
 * (node:tls, node:net, node:v8) to start.
 */
import type { ScalarKey } from './schema.js';

/** Command-line flags that feed the configuration, mapped to the key they set. */
export const CONFIG_FLAGS = {
  port: 'port',
  host: 'host',
  'tls-cert': 'tlsCertFile',
  'tls-key': 'tlsKeyFile',
  kubeconfig: 'kubeconfig',
  'log-level': 'logLevel',
  'default-mode': 'defaultMode',
  'tls-mode': 'tlsMode',
} as const satisfies Record<string, ScalarKey>;

export type ConfigFlagName = keyof typeof CONFIG_FLAGS | 'config';

/** The environment variable that names the YAML file when no --config flag is given. */
export const CONFIG_FILE_ENV = 'POD_HARDENER_CONFIG';
