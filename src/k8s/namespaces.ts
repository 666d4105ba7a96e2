import { existsSync } from 'node:fs';
import {
  CoreV1Api,
  KubeConfig,
  Observable,
  makeInformer,
  type ObservableMiddleware,
  type V1Namespace,
  type V1NamespaceList,
} from '@kubernetes/client-node';
import {
  LOOKUPS_OFF,
  type NamespaceInfo,
  type NamespaceLookup,
  type NamespaceSource,
} from '../engine/index.js';

export type ClusterConnection =
  { kind: 'off' } | { kind: 'in-cluster' } | { kind: 'kubeconfig'; path: string };

export interface NamespaceSourceLogger {
  info(msg: string, meta?: object): void;
  warn(msg: string, meta?: object): void;
  error(msg: string, meta?: object): void;
}

export interface NamespaceSourceOptions {
  readonly cluster: ClusterConnection;
  /** Hard upper bound for the direct GET made on a cache miss. */
  readonly lookupTimeoutMs: number;
  readonly logger: NamespaceSourceLogger;
  /** Called once per failed GET; concurrent lookups that shared that GET do not call it again. */
  readonly onLookupFailure: () => void;
  /** Called each time the namespace watch fails and is scheduled for a restart. */
  readonly onWatchRestart?: () => void;
}

export interface StoppableNamespaceSource extends NamespaceSource {
  /** Ends the informer, its restart timer and any in-flight request. Idempotent. */
  stop(): void;
}

export type FoundLookup = Extract<NamespaceLookup, { kind: 'found' }>;

export const RESTART_BACKOFF_BASE_MS = 1_000;
export const RESTART_BACKOFF_MAX_MS = 30_000;
/**
 * Short enough that a namespace created right after a miss is seen almost at once even while the watch is
 * down, long enough to absorb a burst of reviews for a name that really does not exist.
 */
export const NOT_FOUND_TTL_MS = 1_000;
/** The informer's list has no timeout of its own: without one a hung API server would stall it forever. */
const LIST_TIMEOUT_MS = 60_000;
/** A restart that then ran this long without failing was healthy, so the next failure starts backoff afresh. */
const HEALTHY_RUN_MS = RESTART_BACKOFF_MAX_MS;
/** Bounds memory if something keeps asking for distinct names that do not exist. */
const NOT_FOUND_MAX_ENTRIES = 1_024;
const NAMESPACES_PATH = '/api/v1/namespaces';
// Not exported by client-node; checked up front so a pod without a mounted token fails at start-up.
const SERVICE_ACCOUNT_TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount/token';

const NOT_FOUND: Extract<NamespaceLookup, { kind: 'not-found' }> = Object.freeze({ kind: 'not-found' });
const EMPTY: Readonly<Record<string, string>> = Object.freeze({});
// RFC 1123 label, which is what the API server enforces for namespace names.
const NAMESPACE_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
  constructor(readonly timeoutMs: number) {
    super(`timed out after ${timeoutMs}ms`);
  }
}

export class SourceStoppedError extends Error {
  override readonly name = 'SourceStoppedError';
  constructor() {
    super('namespace source stopped');
  }
}

function copyStrings(record: unknown): Readonly<Record<string, string>> {
  if (record === null || typeof record !== 'object') return EMPTY;
  const out: Record<string, string> = {};
  let any = false;
  for (const [key, value] of Object.entries(record)) {
    // Watch events are raw JSON rather than deserialized models, so the declared types are not a guarantee.
    if (typeof value === 'string') {
      out[key] = value;
      any = true;
    }
  }
  return any ? Object.freeze(out) : EMPTY;
}

/** Copies (and freezes) only what reviews need, so the cache never aliases objects the informer may mutate. */
export function toNamespaceInfo(namespace: Pick<V1Namespace, 'metadata'> | undefined): NamespaceInfo {
  return Object.freeze({
    labels: copyStrings(namespace?.metadata?.labels),
    annotations: copyStrings(namespace?.metadata?.annotations),
  });
}

export function foundLookup(namespace: Pick<V1Namespace, 'metadata'> | undefined): FoundLookup {
  return Object.freeze({ kind: 'found', namespace: toNamespaceInfo(namespace) });
}

export function isValidNamespaceName(name: string): boolean {
  return NAMESPACE_NAME.test(name);
}

/**
 * Runs `run` with a signal that is aborted after `timeoutMs` or when `outer` aborts, and settles by then
 * whether or not `run` honours the signal: a review must never wait on a request that ignores cancellation.
 * The timer is always cleared, so nothing is left to keep the process alive.
 */
export function withTimeout<T>(
  timeoutMs: number,
  run: (signal: AbortSignal) => Promise<T>,
  outer?: AbortSignal,
): Promise<T> {
  const stoppedReason = (): Error =>
    outer?.reason instanceof Error ? outer.reason : new SourceStoppedError();
  if (outer?.aborted) return Promise.reject(stoppedReason());
  return new Promise<T>((resolve, reject) => {
    const controller = new AbortController();
    let settled = false;
    const finish = (): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      outer?.removeEventListener('abort', onOuterAbort);
      return true;
    };
    const fail = (err: Error): void => {
      if (!finish()) return;
      controller.abort(err);
      reject(err);
    };
    const onOuterAbort = (): void => {
      fail(stoppedReason());
    };
    const timer = setTimeout(() => {
      fail(new TimeoutError(timeoutMs));
    }, timeoutMs);
    outer?.addEventListener('abort', onOuterAbort, { once: true });

    let pending: Promise<T>;
    try {
      pending = run(controller.signal);
    } catch (err) {
      fail(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    pending.then(
      (value) => {
        if (finish()) resolve(value);
      },
      (err: unknown) => {
        if (finish()) reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

/** Delay before restart number `attempt` (0-based): 1s, 2s, 4s, ... capped at 30s. */
export function backoffDelayMs(
  attempt: number,
  baseMs: number = RESTART_BACKOFF_BASE_MS,
  maxMs: number = RESTART_BACKOFF_MAX_MS,
): number {
  const safeAttempt = Number.isFinite(attempt) && attempt > 0 ? Math.floor(attempt) : 0;
  // Past 2^30 the product overflows anything useful; the cap applies long before that anyway.
  return Math.min(maxMs, baseMs * 2 ** Math.min(safeAttempt, 30));
}

export interface LookupState {
  readonly cached: FoundLookup | undefined;
  /** Epoch ms until which a recent 404 for this name is trusted. */
  readonly notFoundUntil: number | undefined;
  readonly inFlight: Promise<NamespaceLookup> | undefined;
}

export type LookupPlan =
  | { readonly kind: 'answer'; readonly lookup: NamespaceLookup }
  | { readonly kind: 'join'; readonly pending: Promise<NamespaceLookup> }
  | { readonly kind: 'fetch' };

/**
 * The informer cache wins over everything: it is updated by the watch, so it also overrides a 404 that has
 * since been followed by a create. Only then are a fresh 404, a GET already under way, or a new GET used.
 */
export function planLookup(name: string, state: LookupState, now: number): LookupPlan {
  if (state.cached !== undefined) return { kind: 'answer', lookup: state.cached };
  // Such a name cannot exist, and asking the API server would only produce a confusing 'failed'.
  if (!isValidNamespaceName(name)) return { kind: 'answer', lookup: NOT_FOUND };
  if (state.notFoundUntil !== undefined && state.notFoundUntil > now) {
    return { kind: 'answer', lookup: NOT_FOUND };
  }
  if (state.inFlight !== undefined) return { kind: 'join', pending: state.inFlight };
  return { kind: 'fetch' };
}

function firstLine(text: string): string {
  const line = text.split('\n', 1)[0]?.trim() ?? '';
  return line.length > 120 ? `${line.slice(0, 117)}...` : line;
}

/**
 * A short, loggable reason. Deliberately avoids `message` where client-node puts response bodies and
 * headers in it (ApiException) and prefers stable codes over free text.
 */
export function describeError(err: unknown): string {
  if (err instanceof TimeoutError || err instanceof SourceStoppedError) return err.message;
  if (err !== null && typeof err === 'object') {
    const { code, name, message } = err as { code?: unknown; name?: unknown; message?: unknown };
    if (typeof code === 'number') return `HTTP ${code}`;
    if (typeof (err as { statusCode?: unknown }).statusCode === 'number') {
      return `HTTP ${String((err as { statusCode: number }).statusCode)}`;
    }
    if (typeof code === 'string' && code !== '') return code;
    if (name === 'AbortError') return 'aborted';
    if (typeof message === 'string' && message !== '') return firstLine(message);
  }
  if (typeof err === 'string' && err !== '') return firstLine(err);
  return 'unknown error';
}

/** The HTTP status of a failed client-node call (its ApiException's `code`), if it has one. */
export function httpStatusOf(err: unknown): number | undefined {
  const code = err !== null && typeof err === 'object' ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'number' ? code : undefined;
}

/** Maps a failed GET to the lookup result: only a 404 means the namespace is known not to exist. */
export function lookupFromError(err: unknown): Extract<NamespaceLookup, { kind: 'not-found' | 'failed' }> {
  if (httpStatusOf(err) === 404) return NOT_FOUND;
  return { kind: 'failed', reason: describeError(err) };
}

function describeLoadError(err: unknown): string {
  if (err !== null && typeof err === 'object') {
    const e = err as { name?: unknown; code?: unknown; reason?: unknown; mark?: { line?: unknown } };
    // js-yaml messages quote the offending lines, which may hold credentials.
    if (e.name === 'YAMLException') {
      const line = typeof e.mark?.line === 'number' ? ` at line ${e.mark.line + 1}` : '';
      return `invalid YAML${line}${typeof e.reason === 'string' ? `: ${e.reason}` : ''}`;
    }
    if (typeof e.code === 'string') return e.code;
    // client-node dereferences the parsed document without checking it is a mapping.
    if (err instanceof TypeError) return 'not a kubeconfig document';
  }
  return describeError(err);
}

export function loadKubeConfig(cluster: Exclude<ClusterConnection, { kind: 'off' }>): KubeConfig {
  const kc = new KubeConfig();
  if (cluster.kind === 'in-cluster') {
    // loadFromCluster does not check its inputs and would yield a server URL of https://undefined:undefined.
    if (!process.env.KUBERNETES_SERVICE_HOST || !process.env.KUBERNETES_SERVICE_PORT) {
      throw new Error(
        'in-cluster Kubernetes config requested but KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are not set (not running in a pod?)',
      );
    }
    if (!existsSync(SERVICE_ACCOUNT_TOKEN_PATH)) {
      throw new Error(
        `in-cluster Kubernetes config requested but ${SERVICE_ACCOUNT_TOKEN_PATH} does not exist (is automountServiceAccountToken disabled?)`,
      );
    }
    kc.loadFromCluster();
    return kc;
  }
  try {
    kc.loadFromFile(cluster.path);
  } catch (err) {
    throw new Error(`cannot load kubeconfig ${cluster.path}: ${describeLoadError(err)}`);
  }
  if (kc.getCurrentCluster() === null) {
    throw new Error(
      `kubeconfig ${cluster.path} has no usable current cluster (check current-context and its cluster entry)`,
    );
  }
  return kc;
}

/** client-node 1.x takes cancellation only through request middleware. */
export function abortable(signal: AbortSignal): {
  middleware: ObservableMiddleware[];
  middlewareMergeStrategy: 'append';
} {
  return {
    middleware: [
      {
        pre: (context) => {
          context.setSignal(signal);
          return new Observable(Promise.resolve(context));
        },
        post: (response) => new Observable(Promise.resolve(response)),
      },
    ],
    middlewareMergeStrategy: 'append',
  };
}

/**
 * Resolves as soon as the client is configured; it does not wait for the first list (readiness reports
 * that through `synced()`). Rejects only when the cluster configuration itself cannot be loaded.
 * `lookup()` never rejects.
 */
export function createNamespaceSource(options: NamespaceSourceOptions): Promise<StoppableNamespaceSource> {
  const { cluster } = options;
  // A throw inside the executor becomes the rejection, which is how a bad kubeconfig reaches the caller.
  return new Promise((resolve) => {
    resolve(
      cluster.kind === 'off'
        ? { ...LOOKUPS_OFF, stop: () => undefined }
        : startClusterSource(loadKubeConfig(cluster), options),
    );
  });
}

function startClusterSource(kc: KubeConfig, options: NamespaceSourceOptions): StoppableNamespaceSource {
  const { lookupTimeoutMs, logger, onLookupFailure } = options;
  const api = kc.makeApiClient(CoreV1Api);

  let cache = new Map<string, FoundLookup>();
  const notFoundUntil = new Map<string, number>();
  const inFlight = new Map<string, Promise<NamespaceLookup>>();
  let synced = false;
  let stopped = false;
  let restartAttempt = 0;
  let runStartedAt = 0;
  let restartTimer: NodeJS.Timeout | undefined;
  // Aborting this cancels the informer's list and every pending GET at once.
  const lifetime = new AbortController();

  // Logging must not be able to break the informer's callbacks or a review.
  const log = (level: keyof NamespaceSourceLogger, msg: string, meta: object): void => {
    try {
      logger[level](msg, meta);
    } catch {
      // nothing sensible left to report to
    }
  };

  const listNamespaces = async (): Promise<V1NamespaceList> => {
    const list = await withTimeout(
      LIST_TIMEOUT_MS,
      (signal) => api.listNamespace({}, abortable(signal)),
      lifetime.signal,
    );
    // Rebuilt here rather than from the informer's add callbacks so that `synced` and a complete cache
    // become visible together, and so that namespaces deleted during an outage disappear on relist.
    const next = new Map<string, FoundLookup>();
    for (const ns of list.items) {
      const name = ns.metadata?.name;
      if (name) next.set(name, foundLookup(ns));
    }
    cache = next;
    restartAttempt = 0;
    if (!synced) {
      synced = true;
      log('info', 'namespace cache synced', { namespaces: next.size });
    }
    return list;
  };

  const informer = makeInformer<V1Namespace>(kc, NAMESPACES_PATH, listNamespaces);

  const upsert = (ns: V1Namespace): void => {
    try {
      const name = ns.metadata?.name;
      if (name) cache.set(name, foundLookup(ns));
      restartAttempt = 0;
    } catch (err) {
      log('error', 'namespace cache update failed', { reason: describeError(err) });
    }
  };
  const remove = (ns: V1Namespace): void => {
    try {
      const name = ns.metadata?.name;
      if (name) cache.delete(name);
      restartAttempt = 0;
    } catch (err) {
      log('error', 'namespace cache update failed', { reason: describeError(err) });
    }
  };

  const run = (): void => {
    if (stopped) return;
    runStartedAt = Date.now();
    informer.start().then(() => {
      // stop() cannot abort a watch request whose response had not arrived yet; close it now it has.
      if (stopped) informer.stop().catch(() => undefined);
    }, onInformerError);
  };

  // client-node's informer does not restart itself after an error; this is the only place that does.
  function onInformerError(err: unknown): void {
    try {
      if (stopped || restartTimer !== undefined) return;
      if (Date.now() - runStartedAt >= HEALTHY_RUN_MS) restartAttempt = 0;
      const retryInMs = backoffDelayMs(restartAttempt);
      restartAttempt += 1;
      log('warn', 'namespace informer failed, restarting', {
        reason: describeError(err),
        retryInMs,
        synced,
      });
      options.onWatchRestart?.();
      restartTimer = setTimeout(() => {
        restartTimer = undefined;
        run();
      }, retryInMs);
    } catch (unexpected) {
      log('error', 'namespace informer restart failed', { reason: describeError(unexpected) });
    }
  }

  informer.on('add', upsert);
  informer.on('update', upsert);
  informer.on('delete', remove);
  informer.on('error', onInformerError);
  run();

  const fetchNamespace = async (name: string): Promise<NamespaceLookup> => {
    let result: ReturnType<typeof lookupFromError>;
    try {
      const ns = await withTimeout(
        lookupTimeoutMs,
        (signal) => api.readNamespace({ name }, abortable(signal)),
        lifetime.signal,
      );
      return foundLookup(ns);
    } catch (err) {
      result = lookupFromError(err);
    }
    if (result.kind === 'not-found') {
      if (notFoundUntil.size >= NOT_FOUND_MAX_ENTRIES) notFoundUntil.clear();
      notFoundUntil.set(name, Date.now() + NOT_FOUND_TTL_MS);
      return result;
    }
    try {
      onLookupFailure();
    } catch (err) {
      log('error', 'onLookupFailure callback threw', { reason: describeError(err) });
    }
    log('warn', 'namespace lookup failed', {
      namespace: name,
      reason: result.reason,
      timeoutMs: lookupTimeoutMs,
    });
    return result;
  };

  return {
    lookup(name: string): Promise<NamespaceLookup> {
      const plan = planLookup(
        name,
        { cached: cache.get(name), notFoundUntil: notFoundUntil.get(name), inFlight: inFlight.get(name) },
        Date.now(),
      );
      if (plan.kind === 'answer') return Promise.resolve(plan.lookup);
      if (plan.kind === 'join') return plan.pending;
      notFoundUntil.delete(name);
      const pending = fetchNamespace(name).finally(() => inFlight.delete(name));
      inFlight.set(name, pending);
      return pending;
    },
    synced: () => synced,
    stop(): void {
      if (stopped) return;
      stopped = true;
      clearTimeout(restartTimer);
      restartTimer = undefined;
      lifetime.abort(new SourceStoppedError());
      informer.stop().catch(() => undefined);
    },
  };
}
