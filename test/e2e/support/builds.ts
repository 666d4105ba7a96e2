/**
 * The directories of binaries the e2e builds produce. Each build script caches by version outside the
 * clone and prints its bin directory; an environment variable set by run.sh skips the call.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';

/** `variable`'s value when set, otherwise what `script` (relative to the repository) prints. */
export function builtDirectory(repoRoot: string, script: string, variable?: string): string {
  const fromEnv = variable === undefined ? undefined : process.env[variable];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return execFileSync('bash', [path.join(repoRoot, script)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

export const CONTROL_PLANE_BUILD = 'test/e2e/k8s/build.sh';
export const CONTAINERD_BUILD = 'test/e2e/containerd/build.sh';
