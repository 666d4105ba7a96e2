/**
 * Which modules a Node process loads: a resolve hook, registered with `--import`, that appends every URL
 * the process resolves to a log file. Tests read the log to prove a package stayed unloaded.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const RECORDING_HOOKS = `
import { appendFileSync } from 'node:fs';
let log;
export function initialize(data) { log = data; }
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(log, result.url + '\\n');
  return result;
}
`;

/**
 * Writes the hooks into `dir`, empties `log`, and returns the value for node's `--import` that makes
 * the process record into `log`.
 */
export function recordingImport(dir: string, log: string): string {
  const hooks = path.join(dir, 'record-hooks.mjs');
  writeFileSync(hooks, RECORDING_HOOKS);
  writeFileSync(log, '');
  const register = `import { register } from 'node:module'; register(${JSON.stringify(pathToFileURL(hooks).href)}, { data: ${JSON.stringify(log)} });`;
  return `data:text/javascript,${encodeURIComponent(register)}`;
}
