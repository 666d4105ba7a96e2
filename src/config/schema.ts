import os from 'node:os';
import path from 'node:path';
import type { EngineSettings } from '../engine/index.js';
import type { TlsMinVersion } from '../tls/protocol.js';
import type { LogLevel } from '../logger.js';

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

export const SCALAR_KEYS = [
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
export type ScalarKey = (typeof SCALAR_KEYS)[number];

/** Lists: a YAML list in the file, a comma-separated string in the environment. */
export const LIST_KEYS = ['disabledControls', 'tlsExtraHosts'] as const;
export type ListKey = (typeof LIST_KEYS)[number];

export type ResourceKey = `resources.${'requests' | 'limits'}.${'cpu' | 'memory'}`;

/** File-only keys with a structure of their own (src/config/image-profiles.ts). */
export type StructuredKey = 'imageProfiles';

export type Key = ScalarKey | ListKey | ResourceKey | StructuredKey;

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

export const DEFAULT_NAMESPACE_LOOKUP_TIMEOUT_MS = 1000;
export const DEFAULT_TLS_RELOAD_INTERVAL_SECONDS = 10;
export const DEFAULT_TLS_MIN_VERSION: TlsMinVersion = 'TLSv1.2';
export const DEFAULT_SHUTDOWN_DELAY_SECONDS = 5;
export const DEFAULT_SHUTDOWN_TIMEOUT_SECONDS = 25;
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';

export const DEFAULT_TLS_SECRET_NAME = 'pod-hardener-tls';
export const DEFAULT_WEBHOOK_CONFIGURATION_NAME = 'pod-hardener';
export const DEFAULT_TLS_SERVICE_NAME = 'pod-hardener';
export const DEFAULT_TLS_SERVING_CERT_VALIDITY_SECONDS = 30 * 24 * 60 * 60;
export const DEFAULT_TLS_CA_VALIDITY_SECONDS = 365 * 24 * 60 * 60;
/** Short enough for an end-to-end test to force a rotation. */
export const MIN_TLS_VALIDITY_SECONDS = 30;
export const MAX_TLS_VALIDITY_SECONDS = 100 * 365 * 24 * 60 * 60;

export function defaultTlsCertDir(): string {
  return path.join(os.tmpdir(), 'pod-hardener-tls');
}
