import { readFileSync } from 'node:fs';
import v8 from 'node:v8';
import { DEFAULT_ENGINE_SETTINGS, type EngineSettings, type Mode } from '../engine/index.js';
import { DEFAULT_TLS_CIPHER_SUITES, type TlsMinVersion } from '../tls/protocol.js';
import type { LogLevel } from '../logger.js';
import {
  SCALAR_CHECKS,
  controlList,
  hostList,
  ipAddress,
  namespaceName,
  nonEmptyString,
  type Check,
} from './checks.js';
import {
  DEFAULT_LOG_LEVEL,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_REVIEW_WAIT_SECONDS,
  DEFAULT_NAMESPACE_LOOKUP_TIMEOUT_MS,
  DEFAULT_PORT,
  DEFAULT_SHUTDOWN_DELAY_SECONDS,
  DEFAULT_SHUTDOWN_TIMEOUT_SECONDS,
  DEFAULT_TLS_CA_VALIDITY_SECONDS,
  DEFAULT_TLS_MIN_VERSION,
  DEFAULT_TLS_RELOAD_INTERVAL_SECONDS,
  DEFAULT_TLS_SECRET_NAME,
  DEFAULT_TLS_SERVICE_NAME,
  DEFAULT_TLS_SERVING_CERT_VALIDITY_SECONDS,
  DEFAULT_WEBHOOK_CONFIGURATION_NAME,
  defaultMaxInFlightBytes,
  defaultTlsCertDir,
  type ClusterAccess,
  type Config,
  type Key,
  type ScalarKey,
  type TlsMode,
} from './schema.js';
import {
  CONFIG_FILE_ENV,
  envVarName,
  environmentValue,
  readConfigFile,
  readEnvironment,
  readFlags,
  type ConfigFlagName,
  type Setting,
} from './sources.js';
import { checkImageProfiles } from './image-profiles.js';
import { takeResources } from './resources.js';

export class ConfigError extends Error {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export interface LoadConfigOptions {
  readonly argvFlags?: Readonly<Partial<Record<ConfigFlagName, string>>>;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Injected so tests never touch the file system; defaults to a UTF-8 read. */
  readonly readFile?: (path: string) => string;
  /** V8's heap size limit, from which maxInFlightBytes defaults; default this process's. */
  readonly heapLimitBytes?: number;
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

  const configFile = flags.config ?? environmentValue(env, CONFIG_FILE_ENV);
  if (configFile !== undefined) readConfigFile(configFile, readFile, settings, problems);
  readEnvironment(env, settings);
  readFlags(flags, settings);

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
    imageProfiles: checkImageProfiles(
      settings.get('imageProfiles')?.value,
      settings.get('imageProfiles')?.origin ?? '',
      problems,
    ),
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

  const shutdownDelaySeconds = scalar('shutdownDelaySeconds', DEFAULT_SHUTDOWN_DELAY_SECONDS);
  const shutdownTimeoutSeconds = scalar('shutdownTimeoutSeconds', DEFAULT_SHUTDOWN_TIMEOUT_SECONDS);
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
      : environmentValue(env, 'KUBERNETES_SERVICE_HOST') !== undefined
        ? { kind: 'in-cluster' }
        : { kind: 'off' };

  const tlsReloadIntervalSeconds = scalar('tlsReloadIntervalSeconds', DEFAULT_TLS_RELOAD_INTERVAL_SECONDS);
  const tlsCipherSuites = scalar('tlsCipherSuites', DEFAULT_TLS_CIPHER_SUITES);
  const tlsMinVersionValue = scalar<TlsMinVersion>('tlsMinVersion', DEFAULT_TLS_MIN_VERSION);
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
    namespaceLookupTimeoutMs: scalar('namespaceLookupTimeoutMs', DEFAULT_NAMESPACE_LOOKUP_TIMEOUT_MS),
    tlsCipherSuites,
    tlsMinVersion: tlsMinVersionValue,
    tlsReloadIntervalSeconds,
    shutdownDelaySeconds,
    shutdownTimeoutSeconds,
    logLevel: scalar<LogLevel>('logLevel', DEFAULT_LOG_LEVEL),
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
