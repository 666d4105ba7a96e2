/**
 * Where the API server is and how to authenticate to it, from a kubeconfig file or from the pod's
 * service account. Only what an in-cluster webhook (or a test against a kubeconfig) needs: a server,
 * its CA, a bearer token (inline or from a file) or a client certificate. Exec credential plugins and
 * auth providers are refused by name rather than silently ignored.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { fileToken, staticToken, type TokenSource } from './token.js';

export type ClusterConnection =
  { kind: 'off' } | { kind: 'in-cluster' } | { kind: 'kubeconfig'; path: string };

/** Everything a request needs to reach and authenticate to the API server. */
export interface KubeAccess {
  /** The server URL without a trailing slash, e.g. https://10.96.0.1:443. */
  readonly server: string;
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly insecureSkipTlsVerify: boolean;
  /** Overrides the name the server certificate is checked against (kubeconfig tls-server-name). */
  readonly tlsServerName?: string;
  readonly token?: TokenSource;
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export class KubeConfigError extends Error {
  override readonly name = 'KubeConfigError';
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The pod's own API access. The token file is re-read periodically: bound service account tokens
 * expire (an hour by default) and the kubelet rotates the file well before that.
 */
export function inClusterAccess(env: Env = process.env, dir: string = SERVICE_ACCOUNT_DIR): KubeAccess {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) {
    throw new KubeConfigError(
      'in-cluster Kubernetes config requested but KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are not set (not running in a pod?)',
    );
  }
  const tokenPath = path.join(dir, 'token');
  if (!existsSync(tokenPath)) {
    throw new KubeConfigError(
      `in-cluster Kubernetes config requested but ${tokenPath} does not exist (is automountServiceAccountToken disabled?)`,
    );
  }
  const caPath = path.join(dir, 'ca.crt');
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    ca: readNamed(caPath, `cannot read the service account CA ${caPath}`),
    insecureSkipTlsVerify: false,
    token: fileToken(tokenPath),
  };
}

export function loadAccess(cluster: Exclude<ClusterConnection, { kind: 'off' }>): KubeAccess {
  return cluster.kind === 'in-cluster' ? inClusterAccess() : loadKubeConfigFile(cluster.path);
}

/** Reads and resolves a kubeconfig file's current context. Errors name the file and never quote it. */
export function loadKubeConfigFile(file: string): KubeAccess {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new KubeConfigError(`cannot load kubeconfig ${file}: ${codeOf(err)}`);
  }
  const doc = parseDocument(text);
  const [yamlError] = doc.errors;
  if (yamlError !== undefined) {
    // The library's message quotes the offending lines, which may hold credentials.
    const line = yamlError.linePos?.[0].line;
    const at = line === undefined ? '' : ` at line ${line}`;
    throw new KubeConfigError(`cannot load kubeconfig ${file}: invalid YAML${at} (${yamlError.code})`);
  }
  const root: unknown = doc.toJS();
  if (!isRecord(root)) throw new KubeConfigError(`cannot load kubeconfig ${file}: not a kubeconfig document`);
  return resolveCurrentContext(root, file);
}

function resolveCurrentContext(root: Record<string, unknown>, file: string): KubeAccess {
  const noCluster = (): KubeConfigError =>
    new KubeConfigError(
      `kubeconfig ${file} has no usable current cluster (check current-context and its cluster entry)`,
    );
  const contextName = root['current-context'];
  if (typeof contextName !== 'string' || contextName === '') throw noCluster();
  const context = named(root.contexts, contextName, 'context');
  const clusterName = context?.cluster;
  const cluster = typeof clusterName === 'string' ? named(root.clusters, clusterName, 'cluster') : undefined;
  const server = cluster?.server;
  if (cluster === undefined || typeof server !== 'string' || server === '') throw noCluster();
  if (!/^https?:\/\//.test(server)) {
    throw new KubeConfigError(
      `kubeconfig ${file}: cluster "${String(clusterName)}" server is not an http(s) URL`,
    );
  }
  const base = path.dirname(path.resolve(file));
  const where = `kubeconfig ${file}: cluster "${String(clusterName)}"`;
  const access: {
    -readonly [K in keyof KubeAccess]: KubeAccess[K];
  } = {
    server: server.replace(/\/+$/, ''),
    insecureSkipTlsVerify: cluster['insecure-skip-tls-verify'] === true,
  };
  const ca = material(cluster, 'certificate-authority', base, where);
  if (ca !== undefined) access.ca = ca;
  if (typeof cluster['tls-server-name'] === 'string' && cluster['tls-server-name'] !== '') {
    access.tlsServerName = cluster['tls-server-name'];
  }
  if (cluster['proxy-url'] !== undefined) {
    throw new KubeConfigError(`${where} uses proxy-url, which pod-hardener does not support`);
  }

  const userName = context?.user;
  if (typeof userName === 'string' && userName !== '') {
    const user = named(root.users, userName, 'user');
    if (user === undefined) {
      throw new KubeConfigError(
        `kubeconfig ${file}: user "${userName}" of context "${contextName}" not found`,
      );
    }
    Object.assign(access, userCredentials(user, base, `kubeconfig ${file}: user "${userName}"`));
  }
  return access;
}

function userCredentials(
  user: Record<string, unknown>,
  base: string,
  where: string,
): Pick<KubeAccess, 'cert' | 'key' | 'token'> {
  for (const [key, what] of [
    ['exec', 'an exec credential plugin'],
    ['auth-provider', 'an auth-provider'],
    ['username', 'basic authentication'],
  ] as const) {
    if (user[key] !== undefined && user[key] !== null) {
      throw new KubeConfigError(
        `${where} uses ${what}, which pod-hardener does not support (use a token, tokenFile or client certificate)`,
      );
    }
  }
  const out: { cert?: Buffer; key?: Buffer; token?: TokenSource } = {};
  const cert = material(user, 'client-certificate', base, where);
  const key = material(user, 'client-key', base, where);
  if ((cert === undefined) !== (key === undefined)) {
    throw new KubeConfigError(
      `${where} has a client certificate without its key, or a key without its certificate`,
    );
  }
  if (cert !== undefined && key !== undefined) {
    out.cert = cert;
    out.key = key;
  }
  if (typeof user.token === 'string' && user.token !== '') {
    out.token = staticToken(user.token);
  } else if (typeof user.tokenFile === 'string' && user.tokenFile !== '') {
    const tokenPath = path.resolve(base, user.tokenFile);
    if (!existsSync(tokenPath)) throw new KubeConfigError(`${where}: tokenFile ${tokenPath} does not exist`);
    out.token = fileToken(tokenPath);
  }
  return out;
}

/** `NAME-data` (base64) wins over `NAME` (a path, relative to the kubeconfig's directory), as in kubectl. */
function material(
  entry: Record<string, unknown>,
  name: string,
  base: string,
  where: string,
): Buffer | undefined {
  const data = entry[`${name}-data`];
  if (typeof data === 'string' && data !== '') {
    const decoded = Buffer.from(data, 'base64');
    if (decoded.length === 0) throw new KubeConfigError(`${where}: ${name}-data is not base64`);
    return decoded;
  }
  const file = entry[name];
  if (typeof file !== 'string' || file === '') return undefined;
  const resolved = path.resolve(base, file);
  return readNamed(resolved, `${where}: cannot read ${name} ${resolved}`);
}

function readNamed(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new KubeConfigError(`${what}: ${codeOf(err)}`);
  }
}

/** The `NAME` entry of a kubeconfig list (`[{name, cluster: {...}}]`), its inner mapping. */
function named(list: unknown, name: string, field: string): Record<string, unknown> | undefined {
  if (!Array.isArray(list)) return undefined;
  const entry: unknown = list.find((e) => isRecord(e) && e.name === name);
  if (!isRecord(entry)) return undefined;
  const inner = entry[field];
  // An entry with an empty body (`user: {}` or just `- name: x`) is valid and means "nothing set".
  return isRecord(inner) ? inner : {};
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : err instanceof Error ? err.message : String(err);
}
