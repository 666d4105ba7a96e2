import path from 'node:path';

/** A `//`, a `.` or `..` segment, or a trailing slash: what normalising would change. */
const NOT_NORMAL = /\/\/|\/\.\.?(?:\/|$)|\/$/;

/** Absolute POSIX path without `..`, trailing slash or `:` (the API rejects `:` in mountPath on some paths). */
export function normaliseMountPath(raw: string): string | undefined {
  if (!raw.startsWith('/') || raw.includes(':') || raw.includes('\0') || raw.length > 1024) return undefined;
  // Nearly every mount path is normal already; this runs for every mount of every container.
  if (!NOT_NORMAL.test(raw)) return raw;
  if (raw.split('/').includes('..')) return undefined;
  const normalised = path.posix.normalize(raw).replace(/\/+$/, '');
  return normalised === '' ? undefined : normalised;
}
