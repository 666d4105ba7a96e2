/** Bounds and describes requests to the API server. */
import { KubeApiError } from './errors.js';

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

/** Runs one API request with a signal that ends it, as withTimeout does with a fixed timeout and outer signal. */
export type ApiCall = <T>(run: (signal: AbortSignal) => Promise<T>) => Promise<T>;

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

function firstLine(text: string, max = 120): string {
  const line = text.split('\n', 1)[0]?.trim() ?? '';
  return line.length > max ? `${line.slice(0, max - 3)}...` : line;
}

/**
 * A short, loggable reason. Prefers stable codes over free text; for an API error, the status and the
 * API server's own Status message (which names the missing permission, the conflict...), never the body.
 * Objects with a numeric `code` (client-node's ApiException, used by `audit`) are told by status only,
 * since that library puts response bodies and headers in the message.
 */
export function describeError(err: unknown): string {
  if (err instanceof TimeoutError || err instanceof SourceStoppedError) return err.message;
  if (err instanceof KubeApiError) {
    const reason = err.reason === undefined ? '' : ` ${err.reason}`;
    const detail =
      err.statusMessage === undefined || err.statusMessage === '' ? '' : `: ${err.statusMessage}`;
    return firstLine(`HTTP ${err.status}${reason}${detail}`, 200);
  }
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

/** The HTTP status of a failed API call, if it has one. */
export function httpStatusOf(err: unknown): number | undefined {
  if (err instanceof KubeApiError) return err.status;
  const code = err !== null && typeof err === 'object' ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'number' ? code : undefined;
}
