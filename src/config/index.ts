/**
 * The configuration: `schema` declares every key with its type and default, `checks` validates raw
 * values, `sources` reads the YAML file, POD_HARDENER_* variables and flags, and `load` merges them
 * and reports every problem at once.
 */
export {
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_REVIEW_WAIT_SECONDS,
  DEFAULT_PORT,
  DEFAULT_TLS_CA_VALIDITY_SECONDS,
  DEFAULT_TLS_SECRET_NAME,
  DEFAULT_TLS_SERVICE_NAME,
  DEFAULT_TLS_SERVING_CERT_VALIDITY_SECONDS,
  DEFAULT_WEBHOOK_CONFIGURATION_NAME,
  IN_FLIGHT_COST_FACTOR,
  MIN_TLS_VALIDITY_SECONDS,
  TLS_MODES,
  defaultMaxInFlightBytes,
  defaultTlsCertDir,
  isTlsMode,
  type ClusterAccess,
  type Config,
  type TlsMode,
} from './schema.js';
export { CONFIG_FILE_ENV, CONFIG_FLAGS, envVarName, type ConfigFlagName } from './sources.js';
export { ConfigError, loadConfig, type LoadConfigOptions } from './load.js';
