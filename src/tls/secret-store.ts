/**
 * The TLS Secret: read and written by name in its namespace (get, create, update; no list or watch).
 */
import type { V1Secret } from '@kubernetes/client-node';
import type { Logger } from '../logger.js';
import type { KubeClient } from '../k8s/http.js';
import { httpStatusOf, type ApiCall } from '../k8s/requests.js';
import type { SecretData } from './rotation.js';

export const SECRET_LABELS: Readonly<Record<string, string>> = {
  'app.kubernetes.io/name': 'pod-hardener',
  'app.kubernetes.io/managed-by': 'pod-hardener',
};
export const SECRET_TYPE = 'kubernetes.io/tls';

export interface SecretStoreOptions {
  readonly client: KubeClient;
  readonly namespace: string;
  readonly secretName: string;
  readonly call: ApiCall;
  readonly logger: Logger;
}

export interface SecretStore {
  /** The Secret, or undefined when it does not exist. */
  read(): Promise<V1Secret | undefined>;
  /** Creates or updates the Secret; on a conflict another replica won, and its Secret is returned. */
  store(existing: V1Secret | undefined, data: SecretData): Promise<{ secret: V1Secret; won: boolean }>;
}

export function decodeData(secret: V1Secret | undefined): SecretData | undefined {
  if (secret === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(secret.data ?? {})) {
    out[key] = Buffer.from(value, 'base64').toString('utf8');
  }
  return out;
}

function encodeData(data: SecretData): Record<string, string> {
  return Object.fromEntries(
    Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('base64')]),
  );
}

export function createSecretStore(options: SecretStoreOptions): SecretStore {
  const { call, logger, namespace, secretName } = options;
  const { client } = options;
  const secretRef = `${namespace}/${secretName}`;
  const collection = `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets`;
  const item = `${collection}/${encodeURIComponent(secretName)}`;

  async function readSecret(): Promise<V1Secret | undefined> {
    try {
      return await call((signal) => client.request<V1Secret>({ path: item, signal }));
    } catch (err) {
      if (httpStatusOf(err) === 404) return undefined;
      throw err;
    }
  }

  async function storeSecret(
    existing: V1Secret | undefined,
    data: SecretData,
  ): Promise<{ secret: V1Secret; won: boolean }> {
    try {
      if (existing === undefined) {
        const body: V1Secret = {
          apiVersion: 'v1',
          kind: 'Secret',
          type: SECRET_TYPE,
          metadata: { name: secretName, namespace, labels: { ...SECRET_LABELS } },
          data: encodeData(data),
        };
        return {
          secret: await call((signal) =>
            client.request<V1Secret>({ method: 'POST', path: collection, body, signal }),
          ),
          won: true,
        };
      }
      // The object read in this pass, changed in place: everything else in it (annotations, other data
      // keys, type) is kept, and its metadata.resourceVersion makes the update fail with 409 if anyone
      // wrote since.
      const body = existing;
      body.metadata = body.metadata ?? {};
      body.metadata.labels = { ...body.metadata.labels, ...SECRET_LABELS };
      body.data = { ...body.data, ...encodeData(data) };
      return {
        secret: await call((signal) => client.request<V1Secret>({ method: 'PUT', path: item, body, signal })),
        won: true,
      };
    } catch (err) {
      if (httpStatusOf(err) !== 409) throw err;
      logger.info('another replica wrote the TLS Secret first; using its certificates', {
        secret: secretRef,
      });
      const theirs = await readSecret();
      if (theirs === undefined) throw new Error(`the Secret ${secretRef} disappeared after a write conflict`);
      return { secret: theirs, won: false };
    }
  }

  return { read: readSecret, store: storeSecret };
}
