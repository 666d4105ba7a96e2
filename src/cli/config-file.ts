/**
 * The engine settings of the offline commands (`harden`, `audit`) from `--config`: the webhook's own
 * configuration file, checked as `serve` checks it. Environment variables are not read, so a CI run
 * or an audit gives the same answer wherever it runs.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_ENGINE_SETTINGS, type EngineSettings } from '../engine/index.js';
import { InputError } from '../offline/input-error.js';

/** The defaults without a file; an InputError naming the file for any problem in it. */
export async function engineSettingsFrom(config: string | undefined, cwd: string): Promise<EngineSettings> {
  if (config === undefined) return DEFAULT_ENGINE_SETTINGS;
  // Imported only when asked for: the config module validates server settings too.
  const { ConfigError, loadConfig } = await import('../config/index.js');
  try {
    return loadConfig({
      argvFlags: { config },
      env: {},
      readFile: (file) => readFileSync(path.resolve(cwd, file), 'utf8'),
    }).engine;
  } catch (err) {
    if (err instanceof ConfigError) throw new InputError(config, undefined, err.message);
    throw err;
  }
}
