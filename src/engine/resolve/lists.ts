/** Reading the pod's list annotations and quoting their values in messages, within bounds. */

/** The first `max` entries of a list annotation, with one warning when there were more. */
export function readList(key: string, value: string, max: number, warnings: string[]): string[] {
  const entries = splitList(value, max + 1);
  if (entries.length <= max) return entries;
  warnings.push(`${key}: only the first ${max} entries are read; the rest are ignored`);
  return entries.slice(0, max);
}

/**
 * The first `max` non-empty, trimmed entries of a comma list. Stops scanning once it has them, so an
 * annotation of a hundred thousand entries costs no more than one of `max`.
 */
function splitList(value: string, max: number): string[] {
  const entries: string[] = [];
  let start = 0;
  while (start <= value.length && entries.length < max) {
    let end = value.indexOf(',', start);
    if (end < 0) end = value.length;
    const entry = value.slice(start, end).trim();
    if (entry !== '') entries.push(entry);
    start = end + 1;
  }
  return entries;
}

/** Quotes a user-supplied value for a message, cut short so warnings stay under the API's size limit. */
export function quoteShort(value: string, max = 40): string {
  return JSON.stringify(value.length > max ? `${value.slice(0, max)}...` : value);
}
