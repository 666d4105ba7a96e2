/**
 * Bearer tokens: an inline one, or one read from a file that is re-read every so often, since a bound
 * service account token expires and the kubelet replaces the file before it does.
 */
import { readFile } from 'node:fs/promises';

export interface TokenSource {
  /** The token to send now. */
  get(): Promise<string>;
  /** The server refused the token (401): read the file again on the next request. */
  invalidate(): void;
}

/** client-go re-reads a token file once a minute; so does this. */
export const TOKEN_REFRESH_MS = 60_000;

export function staticToken(token: string): TokenSource {
  return { get: () => Promise.resolve(token), invalidate: () => undefined };
}

export function fileToken(
  file: string,
  refreshMs: number = TOKEN_REFRESH_MS,
  now: () => number = Date.now,
): TokenSource {
  let cached: { token: string; readAt: number } | undefined;
  let reading: Promise<string> | undefined;

  async function read(): Promise<string> {
    let token: string;
    try {
      token = (await readFile(file, 'utf8')).trim();
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      // A failed re-read keeps the token that worked: the kubelet writes the file by an atomic rename,
      // so this is a transient problem, and the server will say so if the old token has expired.
      if (cached !== undefined) return cached.token;
      throw new Error(`cannot read the token file ${file}: ${typeof code === 'string' ? code : String(err)}`);
    }
    if (token === '') {
      if (cached !== undefined) return cached.token;
      throw new Error(`the token file ${file} is empty`);
    }
    cached = { token, readAt: now() };
    return token;
  }

  return {
    get() {
      if (cached !== undefined && now() - cached.readAt < refreshMs) return Promise.resolve(cached.token);
      // Concurrent requests share one read.
      reading ??= read().finally(() => {
        reading = undefined;
      });
      return reading;
    },
    invalidate() {
      if (cached !== undefined) cached = { token: cached.token, readAt: Number.NEGATIVE_INFINITY };
    },
  };
}
