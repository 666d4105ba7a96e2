/**
 * List, then watch from the list's resourceVersion, for as long as the signal allows: what an informer
 * does, for one resource and without a cache of its own. A watch that the server ends (its timeout) is
 * resumed from the last resourceVersion seen (bookmarks included); a 410 Gone, in the response or as an
 * ERROR event, means that version is too old, and the list is taken again. Any other failure rejects, and
 * the caller decides when to start over.
 */
import { KubeApiError } from './errors.js';
import type { KubeClient, WatchEvent } from './http.js';
import { withTimeout } from './requests.js';

export interface ListedObject {
  readonly metadata?: { readonly name?: string; readonly resourceVersion?: string };
}

export interface ListWatchHandlers<T extends ListedObject> {
  /** The complete set, after each (re)list; replaces whatever the caller held. */
  replace(items: readonly T[]): void;
  upsert(item: T): void;
  remove(item: T): void;
  /** The watch's resourceVersion expired and the list is taken again. */
  expired?(): void;
}

export interface ListWatchOptions<T extends ListedObject> {
  readonly client: KubeClient;
  /** The collection's path, e.g. /api/v1/namespaces. */
  readonly path: string;
  readonly handlers: ListWatchHandlers<T>;
  /** Bounds each page of the list: the API server gives a list no deadline of its own. */
  readonly listTimeoutMs: number;
  readonly signal: AbortSignal;
  /** Default 500: a page at a time keeps a large cluster's list from arriving as one huge body. */
  readonly pageSize?: number;
  /** Server-side timeout of one watch request; default a random 5–10 minutes, as client-go does. */
  readonly watchTimeoutSeconds?: number;
}

interface List<T> {
  readonly items?: readonly T[];
  readonly metadata?: { readonly resourceVersion?: string; readonly continue?: string };
}

/** A watch that ends this soon without a single event is a failure, not a server timeout. */
const MIN_WATCH_MS = 1_000;
/** How much longer than its own timeout a watch may stay silent before the connection is presumed dead. */
const WATCH_IDLE_GRACE_MS = 30_000;

function isGone(err: unknown): boolean {
  return err instanceof KubeApiError && err.status === 410;
}

/** Never resolves: rejects on the first failure other than 410 Gone, or with the abort reason. */
export async function listAndWatch<T extends ListedObject>(options: ListWatchOptions<T>): Promise<never> {
  const { client, path, handlers, signal } = options;

  const list = async (): Promise<string> => {
    const items: T[] = [];
    let resourceVersion = '';
    let token: string | undefined;
    do {
      const page = await withTimeout(
        options.listTimeoutMs,
        (s) =>
          client.request<List<T>>({
            path,
            query: { limit: options.pageSize ?? 500, continue: token },
            signal: s,
          }),
        signal,
      );
      items.push(...(page.items ?? []));
      resourceVersion = page.metadata?.resourceVersion ?? '';
      token = page.metadata?.continue || undefined;
    } while (token !== undefined);
    handlers.replace(items);
    return resourceVersion;
  };

  let resourceVersion = await list();
  for (;;) {
    const timeoutSeconds = options.watchTimeoutSeconds ?? Math.floor(300 * (1 + Math.random()));
    const started = Date.now();
    let events = 0;
    const onEvent = (event: WatchEvent): void => {
      if (signal.aborted) return;
      events += 1;
      if (event.type === 'ERROR') {
        const status = (event.object ?? {}) as { code?: unknown; reason?: unknown; message?: unknown };
        throw new KubeApiError(
          typeof status.code === 'number' ? status.code : 500,
          typeof status.reason === 'string' ? status.reason : undefined,
          typeof status.message === 'string' ? status.message : undefined,
          `WATCH ${path}`,
        );
      }
      const item = event.object as T;
      const version = item.metadata?.resourceVersion;
      if (version !== undefined && version !== '') resourceVersion = version;
      if (event.type === 'ADDED' || event.type === 'MODIFIED') handlers.upsert(item);
      else if (event.type === 'DELETED') handlers.remove(item);
      // BOOKMARK only moves the resourceVersion on.
    };
    try {
      await client.watch({
        path,
        query: { watch: 1, resourceVersion, allowWatchBookmarks: true, timeoutSeconds },
        signal,
        idleTimeoutMs: timeoutSeconds * 1000 + WATCH_IDLE_GRACE_MS,
        onEvent,
      });
    } catch (err) {
      if (!isGone(err) || signal.aborted) throw err;
      handlers.expired?.();
      resourceVersion = await list();
      continue;
    }
    if (signal.aborted) throw signal.reason;
    if (events === 0 && Date.now() - started < MIN_WATCH_MS) {
      throw new Error(`the watch of ${path} ended at once`);
    }
  }
}
