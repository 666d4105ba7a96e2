import path from 'node:path';

/** Absolute POSIX path without `..`, trailing slash or `:` (the API rejects `:` in mountPath on some paths). */
export function normaliseMountPath(raw: string): string | undefined {
  if (!raw.startsWith('/') || raw.includes(':') || raw.includes('\0') || raw.length > 1024) return undefined;
  if (raw.split('/').includes('..')) return undefined;
  const normalised = path.posix.normalize(raw).replace(/\/+$/, '');
  return normalised === '' ? undefined : normalised;
}
