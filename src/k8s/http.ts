/**
 * A small Kubernetes API client: JSON requests and newline-delimited JSON watches over node:https with
 * one keep-alive agent. It replaces @kubernetes/client-node on the serve path, whose generated models of
 * every API group cost about 60 MiB of memory to load for the handful of calls the webhook makes.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { StringDecoder } from 'node:string_decoder';
import { IdleTimeoutError, KubeApiError, RequestAbortedError, statusFromBody } from './errors.js';
import type { KubeAccess } from './kubeconfig.js';

export interface RequestOptions {
  readonly method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Absolute API path, e.g. /api/v1/namespaces; callers encode the names in it. */
  readonly path: string;
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  /** Sent as JSON. */
  readonly body?: unknown;
  /** Default application/json; a patch names its kind here. */
  readonly contentType?: string;
  readonly signal?: AbortSignal;
  /** How long the connection may be silent (connecting, waiting, mid-body). Default 30 s. */
  readonly idleTimeoutMs?: number;
}

export interface WatchEvent {
  readonly type: string;
  readonly object: unknown;
}

export interface WatchOptions extends RequestOptions {
  /** Called for every event in order; a throw ends the watch with that error. */
  readonly onEvent: (event: WatchEvent) => void;
}

export interface KubeClient {
  /** The parsed JSON response; rejects with KubeApiError for a non-2xx status. */
  request<T>(options: RequestOptions): Promise<T>;
  /** Streams a watch's events; resolves when the server ends the stream. */
  watch(options: WatchOptions): Promise<void>;
  /** Closes idle keep-alive connections and refuses nothing: later requests open new ones. */
  close(): void;
}

const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
/** Far above any response the webhook asks for (lists are paged), low enough to stop a runaway body. */
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;
/** An error body is only mined for its Status message. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;
const MAX_WATCH_LINE_BYTES = 16 * 1024 * 1024;

type Finish<T> = (err: Error | undefined, value?: T) => void;

/** Errors from a reused keep-alive connection that was already closed: safe to retry a GET once. */
const staleSocket = new WeakSet<Error>();

export function createKubeClient(access: KubeAccess): KubeClient {
  const secure = access.server.startsWith('https:');
  const agent = secure
    ? new https.Agent({
        keepAlive: true,
        ...(access.ca === undefined ? {} : { ca: access.ca }),
        ...(access.cert === undefined ? {} : { cert: access.cert }),
        ...(access.key === undefined ? {} : { key: access.key }),
        ...(access.tlsServerName === undefined ? {} : { servername: access.tlsServerName }),
        rejectUnauthorized: !access.insecureSkipTlsVerify,
      })
    : new http.Agent({ keepAlive: true });
  const transport = secure ? https : http;

  function url(options: RequestOptions): URL {
    const target = new URL(access.server + options.path);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) target.searchParams.set(key, String(value));
    }
    return target;
  }

  /** One request/response exchange; `onResponse` decides when it is over through `finish`. */
  async function send<T>(
    options: RequestOptions,
    onResponse: (res: IncomingMessage, finish: Finish<T>, described: string) => void,
  ): Promise<T> {
    const { signal } = options;
    if (signal?.aborted) throw new RequestAbortedError(signal.reason);
    const token = await access.token?.get();
    if (signal?.aborted) throw new RequestAbortedError(signal.reason);
    const method = options.method ?? 'GET';
    const described = `${method} ${options.path}`;
    const body = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body), 'utf8');
    const idleMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;

    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const req = transport.request(url(options), {
        method,
        agent,
        headers: {
          Accept: 'application/json',
          'User-Agent': 'pod-hardener',
          ...(token === undefined ? {} : { Authorization: `Bearer ${token}` }),
          ...(body === undefined
            ? {}
            : { 'Content-Type': options.contentType ?? 'application/json', 'Content-Length': body.length }),
        },
      });
      const finish: Finish<T> = (err, value) => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        if (err === undefined) {
          resolve(value as T);
        } else {
          req.destroy();
          reject(err);
        }
      };
      const onAbort = (): void => {
        finish(new RequestAbortedError(signal?.reason));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      req.setTimeout(idleMs, () => {
        finish(new IdleTimeoutError(idleMs));
      });
      let answered = false;
      req.on('error', (err) => {
        // A kept-alive connection the server closed just as this request went out: nothing was processed.
        const code = (err as { code?: unknown }).code;
        if (req.reusedSocket && !answered && (code === 'ECONNRESET' || code === 'EPIPE'))
          staleSocket.add(err);
        finish(err);
      });
      req.on('response', (res) => {
        answered = true;
        if (res.statusCode === 401) access.token?.invalidate();
        res.on('error', (err) => {
          finish(err);
        });
        res.on('close', () => {
          if (!res.complete) finish(new Error(`${described}: the connection closed mid-response`));
        });
        onResponse(res, finish, described);
      });
      req.end(body);
    });
  }

  /** Collects a bounded body, then hands it over; a status outside 2xx becomes a KubeApiError. */
  function collect<T>(
    res: IncomingMessage,
    finish: Finish<T>,
    described: string,
    ok: (text: string) => T,
  ): void {
    const status = res.statusCode ?? 0;
    const success = status >= 200 && status < 300;
    const limit = success ? MAX_RESPONSE_BYTES : MAX_ERROR_BODY_BYTES;
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      if (size >= limit) return;
      size += chunk.length;
      chunks.push(chunk);
      if (size >= limit && success) finish(new Error(`${described}: response larger than ${limit} bytes`));
    });
    res.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (!success) {
        const { reason, message } = statusFromBody(text);
        finish(new KubeApiError(status, reason, message, described));
        return;
      }
      let value: T;
      try {
        value = ok(text);
      } catch (err) {
        finish(new Error(`${described}: invalid JSON in the response (${(err as Error).message})`));
        return;
      }
      finish(undefined, value);
    });
  }

  return {
    request<T>(options: RequestOptions): Promise<T> {
      const attempt = (): Promise<T> =>
        send<T>(options, (res, finish, described) => {
          collect(res, finish, described, (text) => (text === '' ? undefined : JSON.parse(text)) as T);
        });
      // Only a GET is retried: the server may have closed the connection after reading a write.
      if ((options.method ?? 'GET') !== 'GET') return attempt();
      return attempt().catch((err: unknown) => {
        if (err instanceof Error && staleSocket.has(err)) return attempt();
        throw err;
      });
    },

    watch(options: WatchOptions): Promise<void> {
      return send<undefined>(options, (res, finish, described) => {
        const status = res.statusCode ?? 0;
        if (status !== 200) {
          collect(res, finish, described, () => undefined);
          return;
        }
        // Events are split across chunks anywhere, even inside a multi-byte character.
        const decoder = new StringDecoder('utf8');
        let pending = '';
        const deliver = (line: string): void => {
          if (line.trim() === '') return;
          const parsed: unknown = JSON.parse(line);
          if (
            parsed === null ||
            typeof parsed !== 'object' ||
            typeof (parsed as WatchEvent).type !== 'string'
          ) {
            throw new Error(`${described}: a watch event without a type`);
          }
          options.onEvent(parsed as WatchEvent);
        };
        res.on('data', (chunk: Buffer) => {
          try {
            pending += decoder.write(chunk);
            let newline = pending.indexOf('\n');
            while (newline !== -1) {
              const line = pending.slice(0, newline);
              pending = pending.slice(newline + 1);
              deliver(line);
              newline = pending.indexOf('\n');
            }
            if (pending.length > MAX_WATCH_LINE_BYTES) {
              throw new Error(`${described}: a watch event larger than ${MAX_WATCH_LINE_BYTES} bytes`);
            }
          } catch (err) {
            finish(err instanceof Error ? err : new Error(String(err)));
          }
        });
        res.on('end', () => {
          try {
            deliver(pending + decoder.end());
          } catch (err) {
            finish(err instanceof Error ? err : new Error(String(err)));
            return;
          }
          finish(undefined);
        });
      });
    },

    close() {
      agent.destroy();
    },
  };
}
