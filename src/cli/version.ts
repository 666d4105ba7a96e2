import { readFileSync } from 'node:fs';

export function packageVersion(): string {
  // ../../package.json from both src/cli/version.ts and dist/cli/version.js.
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version?: string;
  };
  return pkg.version ?? 'unknown';
}
