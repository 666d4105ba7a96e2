import type { V1Namespace } from '@kubernetes/client-node';
import { LOOKUPS_OFF, type NamespaceLookup, type NamespaceSource } from '../engine/index.js';
import { RESTART_BACKOFF_MAX_MS, backoffDelayMs } from './backoff.js';
import { createKubeClient, type KubeClient } from './http.js';
import { loadAccess, type ClusterConnection } from './kubeconfig.js';
import { listAndWatch } from './list-watch.js';
import {
  NOT_FOUND_TTL_MS,
  foundLookup,
  lookupFromError,
  planLookup,
  type FoundLookup,
} from './namespace-lookup.js';
import { SourceStoppedError, describeError, withTimeout } from './requests.js';

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
  /** Ends the list and watch, its restart timer and any in-flight request. Idempotent. */
  stop(): void;
}

/** The list has no timeout of its own: without one a hung API server would stall it forever. */
const LIST_TIMEOUT_MS = 60_000;
/** A restart that then ran this long without failing was healthy, so the next failure starts backoff afresh. */
const HEALTHY_RUN_MS = RESTART_BACKOFF_MAX_MS;
/** Bounds memory if something keeps asking for distinct names that do not exist. */
const NOT_FOUND_MAX_ENTRIES = 1_024;
const NAMESPACES_PATH = '/api/v1/namespaces';

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
        : startClusterSource(createKubeClient(loadAccess(cluster)), options),
    );
  });
}

function startClusterSource(client: KubeClient, options: NamespaceSourceOptions): StoppableNamespaceSource {
  const { lookupTimeoutMs, logger, onLookupFailure } = options;

  let cache = new Map<string, FoundLookup>();
  const notFoundUntil = new Map<string, number>();
  const inFlight = new Map<string, Promise<NamespaceLookup>>();
  let synced = false;
  let stopped = false;
  let restartAttempt = 0;
  let runStartedAt = 0;
  let restartTimer: NodeJS.Timeout | undefined;
  // Aborting this cancels the list, the watch and every pending GET at once.
  const lifetime = new AbortController();

  // Logging must not be able to break the watch's callbacks or a review.
  const log = (level: keyof NamespaceSourceLogger, msg: string, meta: object): void => {
    try {
      logger[level](msg, meta);
    } catch {
      // nothing sensible left to report to
    }
  };

  // Rebuilt from each list rather than patched, so that `synced` and a complete cache become visible
  // together, and so that namespaces deleted during an outage disappear on relist.
  const replace = (items: readonly V1Namespace[]): void => {
    const next = new Map<string, FoundLookup>();
    for (const ns of items) {
      const name = ns.metadata?.name;
      if (name) next.set(name, foundLookup(ns));
    }
    cache = next;
    restartAttempt = 0;
    if (!synced) {
      synced = true;
      log('info', 'namespace cache synced', { namespaces: next.size });
    }
  };
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
    listAndWatch<V1Namespace>({
      client,
      path: NAMESPACES_PATH,
      handlers: {
        replace,
        upsert,
        remove,
        expired: () => {
          log('info', 'namespace watch expired, relisting', {});
        },
      },
      listTimeoutMs: LIST_TIMEOUT_MS,
      signal: lifetime.signal,
    }).catch(onWatchError);
  };

  // listAndWatch gives up on any failure but 410 Gone; this is the only place that starts it again.
  function onWatchError(err: unknown): void {
    try {
      if (stopped || restartTimer !== undefined) return;
      if (Date.now() - runStartedAt >= HEALTHY_RUN_MS) restartAttempt = 0;
      const retryInMs = backoffDelayMs(restartAttempt);
      restartAttempt += 1;
      // Worded as when this was client-node's informer, so searches of existing logs keep matching.
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

  run();

  const fetchNamespace = async (name: string): Promise<NamespaceLookup> => {
    let result: ReturnType<typeof lookupFromError>;
    try {
      const ns = await withTimeout(
        lookupTimeoutMs,
        (signal) =>
          client.request<V1Namespace>({ path: `${NAMESPACES_PATH}/${encodeURIComponent(name)}`, signal }),
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
      client.close();
    },
  };
}
