import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import v8 from 'node:v8';
import { parseDocument } from 'yaml';
import {
  CONTROL_IDS,
  isControlId,
  type ControlId,
  DEFAULT_ENGINE_SETTINGS,
  MODES,
  isMode,
  type DefaultQuantity,
  type EngineSettings,
  type Mode,
  type ResourceDefaults,
  isJsonObject,
  compareQuantities,
  parseQuantity,
  type Quantity,
} from './engine/index.js';
import { DEFAULT_TLS_CIPHER_SUITES, TLS_MIN_VERSIONS, type TlsMinVersion } from './http/server.js';
import { LOG_LEVELS, isLogLevel, type LogLevel } from './logger.js';

/**
 * Which API server namespace lookups go to. Decided only here: a laptop `npm start` must never
 * pick up ~/.kube/config and start reading a real cluster.
 */
export type ClusterAccess =
  | { readonly kind: 'off' }
  | { readonly kind: 'in-cluster' }
  | { readonly kind: 'kubeconfig'; readonly path: string };

/**
 * Where the serving certificate comes from. files: tlsCertFile/tlsKeyFile (cert-manager, a mounted
 * Secret). self-signed: generated for localhost into a temporary directory (local runs). self-managed:
 * a CA and serving certificate kept in a Secret, rotated, and published to the webhook configuration.
 */
export const TLS_MODES = ['files', 'self-signed', 'self-managed'] as const;
export type TlsMode = (typeof TLS_MODES)[number];

export function isTlsMode(value: string): value is TlsMode {
  return (TLS_MODES as readonly string[]).includes(value);
}

export interface Config {
  readonly engine: EngineSettings;
  /** 0 asks the OS for a free port (tests). */
  readonly port: number;
  /** The address to listen on; unset listens on every interface, as a pod needs. */
  readonly host?: string;
  readonly tlsCertFile?: string;
  readonly tlsKeyFile?: string;
  /** OpenSSL cipher list (TLS 1.2 suites and TLS 1.3 `TLS_*` suites), ':'-separated. */
  readonly tlsCipherSuites: string;
  readonly tlsMinVersion: TlsMinVersion;
  readonly maxBodyBytes: number;
  /** Back-pressure: request body bytes admitted at once; over it a request gets 429. */
  readonly maxInFlightBytes: number;
  /** Back-pressure: a review not started this long after its request arrived gets 503. */
  readonly maxReviewWaitSeconds: number;
  readonly kubeconfig?: string;
  readonly namespaceLookupTimeoutMs: number;
  readonly tlsReloadIntervalSeconds: number;
  /** How long readiness reports false before the listener closes, so endpoints drop us first. */
  readonly shutdownDelaySeconds: number;
  /** Hard exit after this, whatever is still in flight. */
  readonly shutdownTimeoutSeconds: number;
  readonly logLevel: LogLevel;
  readonly cluster: ClusterAccess;
  readonly tlsMode: TlsMode;
  /** The webhook's own namespace; required by self-managed TLS. */
  readonly namespace?: string;
  /** Self-managed TLS: the Secret in `namespace` holding the CA and serving certificate. */
  readonly tlsSecretName: string;
  /** Self-managed TLS: the MutatingWebhookConfiguration whose caBundle is kept up to date. */
  readonly webhookConfigurationName: string;
  /** Self-managed TLS: the Service whose DNS names the serving certificate covers. */
  readonly tlsServiceName: string;
  /** Self-managed TLS: extra DNS names or IP addresses for the serving certificate. */
  readonly tlsExtraHosts: readonly string[];
  /** Self-managed TLS: where tls.crt and tls.key are written for the server. */
  readonly tlsCertDir: string;
  readonly tlsServingCertValiditySeconds: number;
  readonly tlsCaValiditySeconds: number;
  /** The YAML file that was read, if any. */
  readonly configFile?: string;
}

export const DEFAULT_PORT = 8443;
export const DEFAULT_MAX_BODY_BYTES = 3 * 1024 * 1024;
/**
 * The default in-flight budget is the V8 heap limit (--max-old-space-size plus the young generation)
 * divided by this. Measured with 100 connections sending 2.9 MiB reviews and the Deployment's heap of
 * 208 MiB: peak RSS rose about 2 MiB per MiB of budget on top of about 75 MiB that a burst costs
 * anyway (connections, bodies drained after a 429, garbage), so 8 MiB keeps the peak near 150 MiB
 * without a cluster; see README, Performance.
 */
export const IN_FLIGHT_COST_FACTOR = 24;
/** Never below one body of the default limit, so a largest review is always admitted on its own. */
const MIN_DEFAULT_IN_FLIGHT_BYTES = DEFAULT_MAX_BODY_BYTES;
export const DEFAULT_MAX_REVIEW_WAIT_SECONDS = 3;

/** The in-flight budget for a V8 heap limit: heap / IN_FLIGHT_COST_FACTOR, whole MiB, at least 3 MiB. */
export function defaultMaxInFlightBytes(heapLimitBytes: number): number {
  const mib = 1024 * 1024;
  return Math.max(
    MIN_DEFAULT_IN_FLIGHT_BYTES,
    Math.floor(heapLimitBytes / IN_FLIGHT_COST_FACTOR / mib) * mib,
  );
}

export const DEFAULT_TLS_SECRET_NAME = 'pod-hardener-tls';
export const DEFAULT_WEBHOOK_CONFIGURATION_NAME = 'pod-hardener';
export const DEFAULT_TLS_SERVICE_NAME = 'pod-hardener';
export const DEFAULT_TLS_SERVING_CERT_VALIDITY_SECONDS = 30 * 24 * 60 * 60;
export const DEFAULT_TLS_CA_VALIDITY_SECONDS = 365 * 24 * 60 * 60;
/** Short enough for an end-to-end test to force a rotation. */
export const MIN_TLS_VALIDITY_SECONDS = 30;
const MAX_TLS_VALIDITY_SECONDS = 100 * 365 * 24 * 60 * 60;

export function defaultTlsCertDir(): string {
  return path.join(os.tmpdir(), 'pod-hardener-tls');
}

export class ConfigError extends Error {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

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

export interface LoadConfigOptions {
  readonly argvFlags?: Readonly<Partial<Record<ConfigFlagName, string>>>;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Injected so tests never touch the file system; defaults to a UTF-8 read. */
  readonly readFile?: (path: string) => string;
  /** V8's heap size limit, from which maxInFlightBytes defaults; default this process's. */
  readonly heapLimitBytes?: number;
}

/** The environment variable that names the YAML file when no --config flag is given. */
export const CONFIG_FILE_ENV = 'POD_HARDENER_CONFIG';

const SCALAR_KEYS = [
  'port',
  'host',
  'tlsCertFile',
  'tlsKeyFile',
  'tlsCipherSuites',
  'tlsMinVersion',
  'maxBodyBytes',
  'maxInFlightBytes',
  'maxReviewWaitSeconds',
  'kubeconfig',
  'namespaceLookupTimeoutMs',
  'tlsReloadIntervalSeconds',
  'shutdownDelaySeconds',
  'shutdownTimeoutSeconds',
  'logLevel',
  'annotationPrefix',
  'defaultMode',
  'runAsUser',
  'runAsGroup',
  'fsGroup',
  'writableVolumeSizeLimit',
  'tlsMode',
  'namespace',
  'tlsSecretName',
  'webhookConfigurationName',
  'tlsServiceName',
  'tlsCertDir',
  'tlsServingCertValiditySeconds',
  'tlsCaValiditySeconds',
] as const;
type ScalarKey = (typeof SCALAR_KEYS)[number];

/** Lists: a YAML list in the file, a comma-separated string in the environment. */
const LIST_KEYS = ['disabledControls', 'tlsExtraHosts'] as const;
type ListKey = (typeof LIST_KEYS)[number];

type ResourceKey = `resources.${'requests' | 'limits'}.${'cpu' | 'memory'}`;

type Key = ScalarKey | ListKey | ResourceKey;

/** Keys a YAML file may set at its top level. */
const FILE_KEYS: ReadonlySet<string> = new Set<string>([...SCALAR_KEYS, ...LIST_KEYS, 'resources']);

export function envVarName(key: string): string {
  return `POD_HARDENER_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

/** A raw value and where it came from, so a problem can name the source the operator has to fix. */
interface Setting {
  readonly value: unknown;
  readonly origin: string;
}

// Kubernetes DNS-1123 subdomain (IsDNS1123Subdomain): annotation and label key prefixes must be one.
const DNS_SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_SUBDOMAIN_MAX = 253;
// DNS-1123 label (namespace names) and DNS-1035 label (Service names), at most 63 characters.
const DNS_LABEL_RE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_1035_LABEL_RE = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
// The API server validates runAsUser/runAsGroup/fsGroup against int32, not the full int64 field type.
const MAX_ID = 2147483647;
const UNSIGNED_INTEGER_RE = /^[0-9]+$/;
const UNSIGNED_DECIMAL_RE = /^[0-9]+(\.[0-9]+)?$/;
// The kubelet injects `<SERVICE>_PORT=tcp://10.0.0.1:443` for every Service in the namespace (service
// links); a Service named pod-hardener therefore sets POD_HARDENER_PORT to something that is not ours.
const SERVICE_LINK_RE = /^(tcp|udp|sctp):\/\//;

type Check<T> = (value: unknown) => { readonly ok: T } | { readonly problem: string };

function show(value: unknown): string {
  // JSON.stringify returns undefined for undefined and functions, whatever its declared type says.
  const text = (JSON.stringify(value) as string | undefined) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function integer(min: number, max: number, what = `an integer from ${min} to ${max}`): Check<number> {
  return (value) => {
    const n = typeof value === 'string' && UNSIGNED_INTEGER_RE.test(value.trim()) ? Number(value) : value;
    return typeof n === 'number' && Number.isSafeInteger(n) && n >= min && n <= max
      ? { ok: n }
      : { problem: `must be ${what}, got ${show(value)}` };
  };
}

function decimal(min: number, minInclusive: boolean, what: string): Check<number> {
  return (value) => {
    const n = typeof value === 'string' && UNSIGNED_DECIMAL_RE.test(value.trim()) ? Number(value) : value;
    return typeof n === 'number' && Number.isFinite(n) && (minInclusive ? n >= min : n > min)
      ? { ok: n }
      : { problem: `must be ${what}, got ${show(value)}` };
  };
}

const nonEmptyString: Check<string> = (value) =>
  typeof value === 'string' && value.trim() !== ''
    ? { ok: value }
    : { problem: `must be a non-empty string, got ${show(value)}` };

function oneOf<T extends string>(allowed: readonly T[], guard: (v: string) => v is T): Check<T> {
  return (value) =>
    typeof value === 'string' && guard(value)
      ? { ok: value }
      : { problem: `must be one of ${allowed.join(', ')}, got ${show(value)}` };
}

const posixId: Check<number> = (value) => {
  const result = integer(1, MAX_ID, `a positive integer up to ${MAX_ID}`)(value);
  if ('problem' in result && (value === 0 || value === '0')) return { problem: 'must not be 0 (root)' };
  return result;
};

const dnsSubdomain: Check<string> = (value) =>
  typeof value === 'string' && value.length <= DNS_SUBDOMAIN_MAX && DNS_SUBDOMAIN_RE.test(value)
    ? { ok: value }
    : {
        problem:
          `must be a valid DNS subdomain (lowercase letters, digits, '-' and '.', starting and ending ` +
          `with a letter or digit, at most ${DNS_SUBDOMAIN_MAX} characters), got ${show(value)}`,
      };

const ipAddress: Check<string> = (value) =>
  typeof value === 'string' && isIP(value) !== 0
    ? { ok: value }
    : { problem: `must be an IP address such as 127.0.0.1 or ::1, got ${show(value)}` };

const namespaceName: Check<string> = (value) =>
  typeof value === 'string' && DNS_LABEL_RE.test(value)
    ? { ok: value }
    : {
        problem:
          `must be a valid namespace name (lowercase letters, digits and '-', starting and ending with a ` +
          `letter or digit, at most 63 characters), got ${show(value)}`,
      };

const serviceName: Check<string> = (value) =>
  typeof value === 'string' && DNS_1035_LABEL_RE.test(value)
    ? { ok: value }
    : {
        problem:
          `must be a valid Service name (lowercase letters, digits and '-', starting with a letter, ending ` +
          `with a letter or digit, at most 63 characters), got ${show(value)}`,
      };

const hostList: Check<readonly string[]> = (value) => {
  const items = typeof value === 'string' ? value.split(',').map((s) => s.trim()) : value;
  if (!Array.isArray(items))
    return { problem: `must be a list of DNS names or IP addresses, got ${show(value)}` };
  const hosts: string[] = [];
  const bad: string[] = [];
  for (const item of items as unknown[]) {
    if (item === '') continue;
    // Digits and dots only is a mistyped IP address, not a DNS name.
    const ok =
      typeof item === 'string' &&
      (isIP(item) !== 0 ||
        (item.length <= DNS_SUBDOMAIN_MAX && DNS_SUBDOMAIN_RE.test(item) && !/^[0-9.]+$/.test(item)));
    if (ok) {
      if (!hosts.includes(item)) hosts.push(item);
    } else bad.push(show(item));
  }
  return bad.length === 0
    ? { ok: hosts }
    : { problem: `has entries that are neither a lowercase DNS name nor an IP address: ${bad.join(', ')}` };
};

function positiveQuantity(value: unknown): { ok: string; q: Quantity } | { problem: string } {
  const q = typeof value === 'string' || typeof value === 'number' ? parseQuantity(value) : undefined;
  if (q === undefined)
    return { problem: `must be a Kubernetes quantity such as 500m or 256Mi, got ${show(value)}` };
  if (q.num <= 0n) return { problem: `must be greater than zero, got ${show(value)}` };
  return { ok: String(value), q };
}

const controlList: Check<readonly ControlId[]> = (value) => {
  // A string is accepted as a comma-separated list so the environment variable can carry it too.
  const items = typeof value === 'string' ? value.split(',').map((s) => s.trim()) : value;
  if (!Array.isArray(items)) return { problem: `must be a list of control ids, got ${show(value)}` };
  const ids = new Set<ControlId>();
  const bad: string[] = [];
  for (const item of items as unknown[]) {
    if (item === '') continue;
    if (typeof item === 'string' && isControlId(item)) ids.add(item);
    else bad.push(show(item));
  }
  return bad.length === 0
    ? { ok: [...ids] }
    : { problem: `has unknown control id ${bad.join(', ')} (known: ${CONTROL_IDS.join(', ')})` };
};

/** 1.2 and 1.3 (YAML reads them as numbers), or Node's own names TLSv1.2 and TLSv1.3. */
const tlsMinVersion: Check<TlsMinVersion> = (value) => {
  const text = typeof value === 'number' ? value.toFixed(1) : value;
  if (typeof text === 'string') {
    const name = text.trim().startsWith('TLSv') ? text.trim() : `TLSv${text.trim()}`;
    const found = TLS_MIN_VERSIONS.find((v) => v === name);
    if (found !== undefined) return { ok: found };
  }
  return { problem: `must be 1.2 or 1.3, got ${show(value)}` };
};

function acceptsCiphers(ciphers: string): boolean {
  try {
    tls.createSecureContext({ ciphers });
    return true;
  } catch {
    return false;
  }
}

// OpenSSL's directives; SECLEVEL above 5 does not exist.
const CIPHER_DIRECTIVE_RE = /^@(STRENGTH|SECLEVEL=[0-5])$/;

/**
 * An OpenSSL cipher list as one string (':', ',' or spaces between entries) or a YAML list. OpenSSL
 * silently skips names it does not know as long as one entry matches something, so every entry that
 * adds suites is checked on its own: a typo is reported instead of quietly offering fewer suites.
 * Exclusions (`!X`, `-X`) and reorderings (`+X`) are not checked; an unknown one changes nothing.
 */
const cipherList: Check<string> = (value) => {
  const items: unknown[] | undefined =
    typeof value === 'string' ? value.split(/[:,\s]+/) : Array.isArray(value) ? value : undefined;
  if (items === undefined) return { problem: `must be an OpenSSL cipher list string, got ${show(value)}` };
  const entries: string[] = [];
  const bad: string[] = [];
  for (const item of items) {
    if (typeof item !== 'string' || /[:,\s]/.test(item.trim())) {
      bad.push(show(item));
      continue;
    }
    const entry = item.trim();
    if (entry === '') continue;
    entries.push(entry);
    if (entry.startsWith('@')) {
      if (!CIPHER_DIRECTIVE_RE.test(entry)) bad.push(show(entry));
    } else if (!/^[!+-]/.test(entry) && !acceptsCiphers(entry)) {
      bad.push(show(entry));
    }
  }
  if (bad.length > 0) {
    return {
      problem:
        `has entries that match no cipher suite this build of OpenSSL (${process.versions.openssl}) ` +
        `offers: ${bad.join(', ')} (names are case-sensitive, e.g. ECDHE-ECDSA-AES128-GCM-SHA256 or ` +
        `TLS_AES_128_GCM_SHA256; "openssl ciphers -v" lists them)`,
    };
  }
  const ciphers = entries.join(':');
  if (entries.length === 0 || !acceptsCiphers(ciphers)) {
    return { problem: `must select at least one cipher suite, got ${show(value)}` };
  }
  return { ok: ciphers };
};

const tlsValiditySeconds = integer(
  MIN_TLS_VALIDITY_SECONDS,
  MAX_TLS_VALIDITY_SECONDS,
  `a whole number of seconds from ${MIN_TLS_VALIDITY_SECONDS} to ${MAX_TLS_VALIDITY_SECONDS} (100 years)`,
);

const SCALAR_CHECKS: { readonly [K in ScalarKey]: Check<unknown> } = {
  port: integer(0, 65535),
  host: ipAddress,
  tlsCertFile: nonEmptyString,
  tlsKeyFile: nonEmptyString,
  tlsCipherSuites: cipherList,
  tlsMinVersion,
  maxBodyBytes: integer(1, Number.MAX_SAFE_INTEGER, 'a positive integer'),
  maxInFlightBytes: integer(1, Number.MAX_SAFE_INTEGER, 'a positive integer'),
  maxReviewWaitSeconds: decimal(0, false, 'a number of seconds greater than 0'),
  kubeconfig: nonEmptyString,
  namespaceLookupTimeoutMs: integer(1, Number.MAX_SAFE_INTEGER, 'a positive integer'),
  tlsReloadIntervalSeconds: decimal(0, false, 'a number greater than 0'),
  shutdownDelaySeconds: decimal(0, true, 'a number of seconds, 0 or more'),
  shutdownTimeoutSeconds: decimal(0, false, 'a number of seconds greater than 0'),
  logLevel: oneOf(LOG_LEVELS, isLogLevel),
  annotationPrefix: dnsSubdomain,
  defaultMode: oneOf(MODES, isMode),
  runAsUser: posixId,
  runAsGroup: posixId,
  fsGroup: posixId,
  writableVolumeSizeLimit: (value) => {
    const r = positiveQuantity(value);
    return 'problem' in r ? r : { ok: r.ok };
  },
  tlsMode: oneOf(TLS_MODES, isTlsMode),
  namespace: namespaceName,
  tlsSecretName: dnsSubdomain,
  webhookConfigurationName: dnsSubdomain,
  tlsServiceName: serviceName,
  tlsCertDir: nonEmptyString,
  tlsServingCertValiditySeconds: tlsValiditySeconds,
  tlsCaValiditySeconds: tlsValiditySeconds,
};

function unknownKeyProblem(origin: string, path: string, known: Iterable<string>): string {
  const lower = path.slice(path.lastIndexOf('.') + 1).toLowerCase();
  const hint = [...known].find((k) => k.toLowerCase() === lower);
  return `${origin}: unknown key "${path}"${hint === undefined ? '' : ` (did you mean "${hint}"?)`}`;
}

/** Reads the YAML file into `settings`; problems are collected, never thrown. */
function readConfigFile(
  file: string,
  readFile: (path: string) => string,
  settings: Map<Key, Setting>,
  problems: string[],
): void {
  let text: string;
  try {
    text = readFile(file);
  } catch (err) {
    problems.push(`cannot read config file ${file}: ${err instanceof Error ? err.message : String(err)}`);
    return;
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    for (const e of doc.errors) problems.push(`${file}: invalid YAML: ${e.message}`);
    return;
  }
  let root: unknown;
  try {
    root = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    problems.push(`${file}: invalid YAML: ${err instanceof Error ? err.message : String(err)}`);
    return;
  }
  if (root === null || root === undefined) return;
  if (!isJsonObject(root)) {
    problems.push(
      `${file}: must be a YAML mapping of settings, got ${Array.isArray(root) ? 'a list' : show(root)}`,
    );
    return;
  }

  for (const [key, value] of Object.entries(root)) {
    if (!FILE_KEYS.has(key)) {
      problems.push(unknownKeyProblem(file, key, FILE_KEYS));
    } else if (key === 'resources') {
      readResources(file, value, settings, problems);
    } else if (value !== null) {
      // null (an empty value, as a Helm template renders an unset value) means "keep the default".
      settings.set(key as ScalarKey | ListKey, { value, origin: `${file}: ${key}` });
    }
  }
}

function readResources(file: string, value: unknown, settings: Map<Key, Setting>, problems: string[]): void {
  if (value === null) return;
  if (!isJsonObject(value)) {
    problems.push(`${file}: resources must be a mapping with requests and limits, got ${show(value)}`);
    return;
  }
  for (const [group, inner] of Object.entries(value)) {
    if (group !== 'requests' && group !== 'limits') {
      problems.push(unknownKeyProblem(file, `resources.${group}`, ['requests', 'limits']));
      continue;
    }
    if (inner === null) continue;
    if (!isJsonObject(inner)) {
      problems.push(`${file}: resources.${group} must be a mapping with cpu and memory, got ${show(inner)}`);
      continue;
    }
    for (const [resource, quantity] of Object.entries(inner)) {
      const path = `resources.${group}.${resource}`;
      if (resource !== 'cpu' && resource !== 'memory') {
        problems.push(unknownKeyProblem(file, path, ['cpu', 'memory']));
        continue;
      }
      settings.set(path as ResourceKey, { value: quantity, origin: `${file}: ${path}` });
    }
  }
}

/**
 * Builds the configuration: defaults, then the YAML file, then POD_HARDENER_* environment variables,
 * then command-line flags. Pure apart from `readFile`; throws a ConfigError listing every problem.
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const flags = options.argvFlags ?? {};
  const env = options.env ?? {};
  const readFile = options.readFile ?? ((path: string) => readFileSync(path, 'utf8'));
  const problems: string[] = [];
  const settings = new Map<Key, Setting>();

  const envValue = (name: string): string | undefined => {
    const v = env[name];
    // Manifests often render an unset value as an empty string; that means "not set", not "empty".
    return v === undefined || v.trim() === '' ? undefined : v;
  };

  const configFile = flags.config ?? envValue(CONFIG_FILE_ENV);
  if (configFile !== undefined) readConfigFile(configFile, readFile, settings, problems);

  for (const key of [...SCALAR_KEYS, ...LIST_KEYS] as const) {
    const name = envVarName(key);
    const value = envValue(name);
    if (value === undefined) continue;
    if (key === 'port' && SERVICE_LINK_RE.test(value)) continue;
    settings.set(key, { value, origin: `env ${name}` });
  }

  for (const [flag, key] of Object.entries(CONFIG_FLAGS) as [keyof typeof CONFIG_FLAGS, ScalarKey][]) {
    const value = flags[flag];
    if (value !== undefined) settings.set(key, { value, origin: `--${flag}` });
  }

  function take<T>(key: Key, check: Check<T>, fallback: T): T;
  function take<T>(key: Key, check: Check<T>, fallback: undefined): T | undefined;
  function take<T>(key: Key, check: Check<T>, fallback: T | undefined): T | undefined {
    const setting = settings.get(key);
    if (setting === undefined) return fallback;
    const result = check(setting.value);
    if ('ok' in result) return result.ok;
    problems.push(`${key} ${result.problem} (from ${setting.origin})`);
    return fallback;
  }
  const scalar = <T>(key: ScalarKey, fallback: T): T => take(key, SCALAR_CHECKS[key] as Check<T>, fallback);
  const optionalString = (key: ScalarKey): string | undefined => take(key, nonEmptyString, undefined);

  const resources = takeResources(settings, problems);
  const engine: EngineSettings = {
    annotationPrefix: scalar('annotationPrefix', DEFAULT_ENGINE_SETTINGS.annotationPrefix),
    defaultMode: scalar<Mode>('defaultMode', DEFAULT_ENGINE_SETTINGS.defaultMode),
    runAsUser: scalar('runAsUser', DEFAULT_ENGINE_SETTINGS.runAsUser),
    runAsGroup: scalar('runAsGroup', DEFAULT_ENGINE_SETTINGS.runAsGroup),
    fsGroup: scalar('fsGroup', DEFAULT_ENGINE_SETTINGS.fsGroup),
    writableVolumeSizeLimit: scalar(
      'writableVolumeSizeLimit',
      DEFAULT_ENGINE_SETTINGS.writableVolumeSizeLimit,
    ),
    disabledControls: take('disabledControls', controlList, DEFAULT_ENGINE_SETTINGS.disabledControls),
    resources,
  };

  const tlsCertFile = optionalString('tlsCertFile');
  const tlsKeyFile = optionalString('tlsKeyFile');
  if (tlsCertFile !== undefined && tlsKeyFile === undefined) {
    problems.push(
      'tlsCertFile is set but tlsKeyFile is not: give both, or neither to use a self-signed certificate',
    );
  }
  if (tlsKeyFile !== undefined && tlsCertFile === undefined) {
    problems.push(
      'tlsKeyFile is set but tlsCertFile is not: give both, or neither to use a self-signed certificate',
    );
  }

  const shutdownDelaySeconds = scalar('shutdownDelaySeconds', 5);
  const shutdownTimeoutSeconds = scalar('shutdownTimeoutSeconds', 25);
  if (shutdownTimeoutSeconds <= shutdownDelaySeconds) {
    problems.push(
      `shutdownTimeoutSeconds (${shutdownTimeoutSeconds}) must be greater than shutdownDelaySeconds ` +
        `(${shutdownDelaySeconds}), or in-flight reviews are cut off before the listener even closes`,
    );
  }

  const kubeconfig = optionalString('kubeconfig');
  const cluster: ClusterAccess =
    kubeconfig !== undefined
      ? { kind: 'kubeconfig', path: kubeconfig }
      : envValue('KUBERNETES_SERVICE_HOST') !== undefined
        ? { kind: 'in-cluster' }
        : { kind: 'off' };

  const tlsReloadIntervalSeconds = scalar('tlsReloadIntervalSeconds', 10);
  const tlsCipherSuites = scalar('tlsCipherSuites', DEFAULT_TLS_CIPHER_SUITES);
  const tlsMinVersionValue = scalar<TlsMinVersion>('tlsMinVersion', 'TLSv1.2');
  // TLS 1.3 suites are named TLS_*; with none named, OpenSSL keeps its TLS 1.3 defaults (all AEAD). With
  // no TLS 1.2 suite, though, a TLS 1.2 client can never connect.
  if (
    settings.has('tlsCipherSuites') &&
    tlsMinVersionValue === 'TLSv1.2' &&
    tlsCipherSuites.split(':').every((entry) => entry.startsWith('TLS_') || /^[!+@-]/.test(entry))
  ) {
    problems.push(
      `tlsCipherSuites names only TLS 1.3 suites but tlsMinVersion is 1.2: TLS 1.2 clients could not ` +
        `connect; add TLS 1.2 suites (e.g. ECDHE-ECDSA-AES128-GCM-SHA256) or set tlsMinVersion to 1.3`,
    );
  }
  const givenFiles = tlsCertFile !== undefined || tlsKeyFile !== undefined;
  const tlsMode = scalar<TlsMode>('tlsMode', givenFiles ? 'files' : 'self-signed');
  const namespace = take('namespace', namespaceName, undefined);
  const host = take('host', ipAddress, undefined);
  const tlsServingCertValiditySeconds = scalar(
    'tlsServingCertValiditySeconds',
    DEFAULT_TLS_SERVING_CERT_VALIDITY_SECONDS,
  );
  const tlsCaValiditySeconds = scalar('tlsCaValiditySeconds', DEFAULT_TLS_CA_VALIDITY_SECONDS);
  if (tlsMode === 'files' && !givenFiles) {
    problems.push('tlsMode files needs tlsCertFile and tlsKeyFile (--tls-cert and --tls-key)');
  }
  if (tlsMode !== 'files' && givenFiles) {
    problems.push(
      `tlsCertFile and tlsKeyFile are only used with tlsMode files, but tlsMode is ${tlsMode}: ` +
        `remove them or set tlsMode to files`,
    );
  }
  if (tlsCaValiditySeconds < 2 * tlsServingCertValiditySeconds) {
    problems.push(
      `tlsCaValiditySeconds (${tlsCaValiditySeconds}) must be at least twice tlsServingCertValiditySeconds ` +
        `(${tlsServingCertValiditySeconds}), so a CA renewal leaves room for serving certificates to move ` +
        `to the new CA`,
    );
  }
  if (tlsMode === 'self-managed') {
    if (cluster.kind === 'off') {
      problems.push(
        'tlsMode self-managed needs cluster access: run it in a pod (in-cluster) or give kubeconfig',
      );
    }
    if (namespace === undefined && !settings.has('namespace')) {
      problems.push(
        `tlsMode self-managed needs namespace, the webhook's own namespace (in a pod, set ` +
          `${envVarName('namespace')} from the downward API, fieldPath metadata.namespace)`,
      );
    }
    if (tlsReloadIntervalSeconds * 3 > tlsServingCertValiditySeconds) {
      problems.push(
        `tlsReloadIntervalSeconds (${tlsReloadIntervalSeconds}) must be at most a third of ` +
          `tlsServingCertValiditySeconds (${tlsServingCertValiditySeconds}), or a certificate can expire ` +
          `between two checks`,
      );
    }
  }

  const config: Config = {
    engine,
    port: scalar('port', DEFAULT_PORT),
    maxBodyBytes: scalar('maxBodyBytes', DEFAULT_MAX_BODY_BYTES),
    maxInFlightBytes: scalar(
      'maxInFlightBytes',
      defaultMaxInFlightBytes(options.heapLimitBytes ?? v8.getHeapStatistics().heap_size_limit),
    ),
    maxReviewWaitSeconds: scalar('maxReviewWaitSeconds', DEFAULT_MAX_REVIEW_WAIT_SECONDS),
    namespaceLookupTimeoutMs: scalar('namespaceLookupTimeoutMs', 1000),
    tlsCipherSuites,
    tlsMinVersion: tlsMinVersionValue,
    tlsReloadIntervalSeconds,
    shutdownDelaySeconds,
    shutdownTimeoutSeconds,
    logLevel: scalar<LogLevel>('logLevel', 'info'),
    cluster,
    tlsMode,
    tlsSecretName: scalar('tlsSecretName', DEFAULT_TLS_SECRET_NAME),
    webhookConfigurationName: scalar('webhookConfigurationName', DEFAULT_WEBHOOK_CONFIGURATION_NAME),
    tlsServiceName: scalar('tlsServiceName', DEFAULT_TLS_SERVICE_NAME),
    tlsExtraHosts: take('tlsExtraHosts', hostList, []),
    tlsCertDir: scalar('tlsCertDir', defaultTlsCertDir()),
    tlsServingCertValiditySeconds,
    tlsCaValiditySeconds,
    ...(namespace === undefined ? {} : { namespace }),
    ...(host === undefined ? {} : { host }),
    ...(tlsCertFile === undefined ? {} : { tlsCertFile }),
    ...(tlsKeyFile === undefined ? {} : { tlsKeyFile }),
    ...(kubeconfig === undefined ? {} : { kubeconfig }),
    ...(configFile === undefined ? {} : { configFile }),
  };

  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

function takeResources(settings: ReadonlyMap<Key, Setting>, problems: string[]): ResourceDefaults {
  const parsed = new Map<ResourceKey, Quantity>();
  const value = (key: ResourceKey, fallback: DefaultQuantity): DefaultQuantity => {
    const setting = settings.get(key);
    if (setting === undefined) {
      const q = fallback === null ? undefined : parseQuantity(fallback);
      if (q !== undefined) parsed.set(key, q);
      return fallback;
    }
    // null or "" is how an operator switches one default off.
    if (setting.value === null || setting.value === '') return null;
    const result = positiveQuantity(setting.value);
    if ('problem' in result) {
      problems.push(`${key} ${result.problem} (from ${setting.origin})`);
      return fallback;
    }
    parsed.set(key, result.q);
    return result.ok;
  };

  const d = DEFAULT_ENGINE_SETTINGS.resources;
  const resources: ResourceDefaults = {
    requests: {
      cpu: value('resources.requests.cpu', d.requests.cpu),
      memory: value('resources.requests.memory', d.requests.memory),
    },
    limits: {
      cpu: value('resources.limits.cpu', d.limits.cpu),
      memory: value('resources.limits.memory', d.limits.memory),
    },
  };

  for (const resource of ['cpu', 'memory'] as const) {
    const request = parsed.get(`resources.requests.${resource}`);
    const limit = parsed.get(`resources.limits.${resource}`);
    if (request !== undefined && limit !== undefined && compareQuantities(request, limit) > 0) {
      problems.push(
        `resources.requests.${resource} (${String(resources.requests[resource])}) is above ` +
          `resources.limits.${resource} (${String(resources.limits[resource])}); the API server would reject ` +
          `every pod that gets both defaults`,
      );
    }
  }
  return resources;
}
