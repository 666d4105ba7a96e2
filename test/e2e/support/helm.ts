/**
 * helm v4 for the chart tests, built from the Go module pinned in test/e2e/helm/ (cached outside the
 * clone, as the control plane is). Helm's own state (repositories, cache, registry logins) goes to a
 * temporary directory, never to the user's ~/.config/helm.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { builtDirectory } from './builds.js';
import type { Manifest } from './cluster.js';

export const HELM_BUILD = 'test/e2e/helm/build.sh';
export const CHART = 'charts/pod-hardener';

export interface HelmResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface Helm {
  readonly binary: string;
  run(args: readonly string[], options?: { kubeconfig?: string; timeoutMs?: number }): Promise<HelmResult>;
  /** helm that must succeed; returns stdout. */
  ok(args: readonly string[], options?: { kubeconfig?: string; timeoutMs?: number }): Promise<string>;
}

export function helmFor(repoRoot: string): Helm {
  const binary = path.join(builtDirectory(repoRoot, HELM_BUILD, 'E2E_HELM_BIN_DIR'), 'helm');
  const home = mkdtempSync(path.join(os.tmpdir(), 'pod-hardener-helm-'));
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    HELM_CACHE_HOME: path.join(home, 'cache'),
    HELM_CONFIG_HOME: path.join(home, 'config'),
    HELM_DATA_HOME: path.join(home, 'data'),
  };
  const run: Helm['run'] = (args, options = {}) =>
    new Promise((resolve) => {
      const kube = options.kubeconfig === undefined ? [] : ['--kubeconfig', options.kubeconfig];
      execFile(
        binary,
        [...args, ...kube],
        { cwd: repoRoot, env, timeout: options.timeoutMs ?? 60_000, maxBuffer: 16 * 1024 * 1024 },
        (err, stdout, stderr) => {
          const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
          resolve({ code, stdout, stderr });
        },
      );
    });
  return {
    binary,
    run,
    async ok(args, options) {
      const result = await run(args, options);
      if (result.code !== 0) {
        throw new Error(`helm ${args.join(' ')} exited ${result.code}:\n${result.stderr}${result.stdout}`);
      }
      return result.stdout;
    },
  };
}

/** `--set-json` arguments for a values object, one per top-level key. */
export function valueArgs(values: Record<string, unknown>): string[] {
  return Object.entries(values).flatMap(([key, value]) => ['--set-json', `${key}=${JSON.stringify(value)}`]);
}

export function parseManifests(yaml: string): Manifest[] {
  return parseAllDocuments(yaml)
    .map((document) => document.toJS() as Manifest | null)
    .filter((manifest): manifest is Manifest => manifest !== null);
}

/** `helm template` of the chart: the objects as `helm install` would create them. */
export async function renderChart(
  helm: Helm,
  values: Record<string, unknown> = {},
  release = { name: 'pod-hardener', namespace: 'pod-hardener-system' },
): Promise<Manifest[]> {
  const out = await helm.ok([
    'template',
    release.name,
    CHART,
    '--namespace',
    release.namespace,
    ...valueArgs(values),
  ]);
  return parseManifests(out);
}
