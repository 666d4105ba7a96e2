import { isIP } from 'node:net';
import tls from 'node:tls';
import {
  CONTROL_IDS,
  isControlId,
  type ControlId,
  MODES,
  isMode,
  parseQuantity,
  type Quantity,
} from '../engine/index.js';
import { TLS_MIN_VERSIONS, type TlsMinVersion } from '../tls/protocol.js';
import { LOG_LEVELS, isLogLevel } from '../log-levels.js';
import {
  MAX_TLS_VALIDITY_SECONDS,
  MIN_TLS_VALIDITY_SECONDS,
  TLS_MODES,
  isTlsMode,
  type ScalarKey,
} from './schema.js';

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

export type Check<T> = (value: unknown) => { readonly ok: T } | { readonly problem: string };

export function show(value: unknown): string {
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

export const nonEmptyString: Check<string> = (value) =>
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

export const ipAddress: Check<string> = (value) =>
  typeof value === 'string' && isIP(value) !== 0
    ? { ok: value }
    : { problem: `must be an IP address such as 127.0.0.1 or ::1, got ${show(value)}` };

export const namespaceName: Check<string> = (value) =>
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

export const hostList: Check<readonly string[]> = (value) => {
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

export function positiveQuantity(value: unknown): { ok: string; q: Quantity } | { problem: string } {
  const q = typeof value === 'string' || typeof value === 'number' ? parseQuantity(value) : undefined;
  if (q === undefined)
    return { problem: `must be a Kubernetes quantity such as 500m or 256Mi, got ${show(value)}` };
  if (q.num <= 0n) return { problem: `must be greater than zero, got ${show(value)}` };
  return { ok: String(value), q };
}

export const controlList: Check<readonly ControlId[]> = (value) => {
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

export const SCALAR_CHECKS: { readonly [K in ScalarKey]: Check<unknown> } = {
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
