/** What a failed API request throws: the HTTP status and the API server's own Status, never the body. */
export class KubeApiError extends Error {
  override readonly name = 'KubeApiError';
  constructor(
    /** The HTTP status, or the `code` of a watch ERROR event's Status. */
    readonly status: number,
    /** The Status `reason` (NotFound, Conflict, Forbidden, Expired, ...), when the server sent one. */
    readonly reason: string | undefined,
    /** The Status `message`, or the first line of a non-Status body. */
    readonly statusMessage: string | undefined,
    /** Method and path, without the query. */
    readonly request: string,
  ) {
    super(
      `${request}: HTTP ${status}${reason === undefined ? '' : ` ${reason}`}` +
        (statusMessage === undefined || statusMessage === '' ? '' : `: ${statusMessage}`),
    );
  }
}

/** The request was cancelled through its AbortSignal; `cause` holds the signal's reason. */
export class RequestAbortedError extends Error {
  override readonly name = 'AbortError';
  constructor(cause: unknown) {
    super('request aborted', { cause });
  }
}

/** The connection was silent for longer than allowed (no response, or a watch that stopped sending). */
export class IdleTimeoutError extends Error {
  override readonly name = 'IdleTimeoutError';
  constructor(readonly idleMs: number) {
    super(`no data from the API server for ${idleMs}ms`);
  }
}

/**
 * The parts of a Status object worth keeping, from a response body that may be anything. Bounded, so
 * that a proxy's HTML error page does not end up in a log line.
 */
export function statusFromBody(body: string): { reason?: string; message?: string } {
  try {
    const parsed: unknown = JSON.parse(body);
    if (parsed !== null && typeof parsed === 'object') {
      const { kind, reason, message } = parsed as { kind?: unknown; reason?: unknown; message?: unknown };
      if (kind === 'Status') {
        return {
          ...(typeof reason === 'string' && reason !== '' ? { reason } : {}),
          ...(typeof message === 'string' ? { message: shorten(message) } : {}),
        };
      }
    }
  } catch {
    // not JSON: fall through to the text
  }
  const line = body.split('\n', 1)[0]?.trim() ?? '';
  return line === '' ? {} : { message: shorten(line) };
}

function shorten(text: string): string {
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}
