/**
 * The built `harden` command as users run it: `node dist/cli.js harden` loads none of the webhook's
 * server packages, and kubectl finds and runs it as the plugin `kubectl pod-hardener`. Also what `serve`
 * loads with a cluster configured: its own small client, never @kubernetes/client-node (60 MiB).
 */
import { expect } from 'chai';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { recordingImport } from '../support/module-recording.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(ROOT, 'dist/cli.js');
const FIXTURES = path.join(ROOT, 'test/offline/fixtures');
const SERVER_PACKAGES = ['express', 'winston', 'prom-client', '@kubernetes/client-node'];
const execFileAsync = promisify(execFile);

function hasKubectl(): boolean {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('harden, built', function () {
  this.timeout(120_000);
  let tmp: string;

  before(() => {
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'ignore' });
    // npm sets the bin's executable bit when it installs the package; tsc does not.
    chmodSync(CLI, 0o755);
    tmp = mkdtempSync(path.join(os.tmpdir(), 'pod-hardener-dist-'));
  });
  after(() => {
    rmSync(tmp, { recursive: true, force: true });
  });

  async function loadedBy(args: string[], stdin = ''): Promise<string[]> {
    const log = path.join(tmp, 'loaded.txt');
    const register = recordingImport(tmp, log);
    const child = execFileAsync(process.execPath, ['--import', register, CLI, ...args], { cwd: FIXTURES });
    child.child.stdin?.end(stdin);
    await child.catch((err: unknown) => {
      // --check exits 1 when there is something to change; that is not a failure here.
      if ((err as { code?: number }).code !== 1) throw err;
    });
    return readFileSync(log, 'utf8').split('\n').filter(Boolean);
  }

  for (const args of [
    ['harden', 'app'],
    ['harden', '--check', '--report', 'sarif', 'app'],
  ]) {
    it(`\`${args.join(' ')}\` loads none of ${SERVER_PACKAGES.join(', ')}`, async () => {
      const urls = await loadedBy(args);
      expect(urls.some((u) => u.endsWith('/dist/offline/harden-file.js'))).to.equal(true);
      for (const name of SERVER_PACKAGES) {
        expect(urls.filter((u) => u.includes(`/node_modules/${name}/`))).to.deep.equal([]);
      }
    });
  }

  it('`fn` (the KRM function) loads the same path and no server package', async () => {
    const deployment = readFileSync(path.join(FIXTURES, 'app/deployment.json'), 'utf8');
    const list = JSON.stringify({
      apiVersion: 'config.kubernetes.io/v1',
      kind: 'ResourceList',
      items: [JSON.parse(deployment) as unknown],
      functionConfig: { apiVersion: 'v1', kind: 'ConfigMap', data: { runAsUser: '1234' } },
    });
    const urls = await loadedBy(['fn'], list);
    expect(urls.some((u) => u.endsWith('/dist/offline/harden-file.js'))).to.equal(true);
    for (const name of SERVER_PACKAGES) {
      expect(urls.filter((u) => u.includes(`/node_modules/${name}/`))).to.deep.equal([]);
    }
  });

  it('`harden` without --config loads neither the configuration checks nor node:tls', async () => {
    const urls = await loadedBy(['harden', 'app']);
    expect(
      urls.filter((u) => (u.includes('/dist/config/') && !u.endsWith('/flags.js')) || u === 'node:tls'),
    ).to.deep.equal([]);
  });

  it('`harden --help` loads neither the engine nor yaml', async () => {
    const urls = await loadedBy(['harden', '--help']);
    expect(urls.some((u) => u.endsWith('/dist/cli/harden-args.js'))).to.equal(true);
    expect(
      urls.filter((u) => u.includes('/dist/offline/') || u.includes('/node_modules/yaml/')),
    ).to.deep.equal([]);
    expect(urls.filter((u) => u.endsWith('/dist/engine/index.js'))).to.deep.equal([]);
  });

  it('takes --config before the command: `pod-hardener --config FILE harden`', async () => {
    writeFileSync(path.join(tmp, 'config.yaml'), 'runAsUser: 4242\n');
    const { stdout } = await execFileAsync(
      process.execPath,
      [CLI, '--config', path.join(tmp, 'config.yaml'), 'harden', 'app/deployment.json'],
      { cwd: FIXTURES },
    );
    expect(JSON.parse(stdout).spec.template.spec.securityContext.runAsUser).to.equal(4242);
  });

  it('ends quietly when its reader closes the pipe early (`harden dir | head`)', async () => {
    const child = spawn(process.execPath, [CLI, 'harden', 'app-repo'], { cwd: FIXTURES });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // Closed before the first write, so every write meets a closed pipe.
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect(stderr).to.equal('');
    expect(code).to.equal(0);
  });

  it('with --config still loads no server package', async () => {
    writeFileSync(path.join(tmp, 'config.yaml'), 'runAsUser: 1234\n');
    const urls = await loadedBy(['harden', '--config', path.join(tmp, 'config.yaml'), 'app']);
    for (const name of SERVER_PACKAGES) {
      expect(urls.filter((u) => u.includes(`/node_modules/${name}/`))).to.deep.equal([]);
    }
  });

  /** Runs `serve` until its output matches `until`, then stops it; the URLs it loaded by then. */
  async function loadedByServe(
    args: string[],
    env: Record<string, string>,
    until: RegExp,
  ): Promise<string[]> {
    const log = path.join(tmp, 'loaded-serve.txt');
    const child = spawn(process.execPath, ['--import', recordingImport(tmp, log), CLI, 'serve', ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const exited = new Promise((resolve) => child.on('exit', resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        const onData = (chunk: Buffer): void => {
          output += chunk.toString('utf8');
          if (until.test(output)) resolve();
        };
        child.stdout.on('data', onData);
        child.stderr.on('data', onData);
        void exited.then(() => {
          reject(new Error(`serve exited early:\n${output}`));
        });
      });
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    return readFileSync(log, 'utf8').split('\n').filter(Boolean);
  }

  function unreachableKubeconfig(): string {
    const file = path.join(tmp, 'kubeconfig');
    writeFileSync(
      file,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          { name: 'c', cluster: { server: 'https://127.0.0.1:1', 'insecure-skip-tls-verify': true } },
        ],
        users: [{ name: 'u', user: { token: 't' } }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'x',
      }),
    );
    return file;
  }

  it('`serve` with a cluster configured loads its own client and not @kubernetes/client-node', async () => {
    const urls = await loadedByServe(
      ['--port', '0', '--kubeconfig', unreachableKubeconfig()],
      {},
      /namespace informer failed/,
    );
    expect(urls.some((u) => u.endsWith('/dist/k8s/http.js'))).to.equal(true);
    expect(urls.filter((u) => u.includes('/node_modules/@kubernetes/client-node/'))).to.deep.equal([]);
  });

  it('`serve --tls-mode self-managed` reaches the cluster without @kubernetes/client-node', async () => {
    const urls = await loadedByServe(
      ['--port', '0', '--kubeconfig', unreachableKubeconfig(), '--tls-mode', 'self-managed'],
      { POD_HARDENER_NAMESPACE: 'pod-hardener-system', POD_HARDENER_TLS_CERT_DIR: path.join(tmp, 'certs') },
      /TLS Secret sync failed at start/,
    );
    expect(urls.some((u) => u.endsWith('/dist/tls/self-managed.js'))).to.equal(true);
    expect(urls.filter((u) => u.includes('/node_modules/@kubernetes/client-node/'))).to.deep.equal([]);
  });

  it('runs as a kubectl plugin: `kubectl plugin list` finds it and `kubectl pod-hardener harden -f` works', function () {
    if (!hasKubectl()) this.skip();
    const bin = path.join(tmp, 'bin');
    execFileSync('mkdir', ['-p', bin]);
    // What npm puts in the bin directory for package.json's "bin" entry.
    symlinkSync(CLI, path.join(bin, 'kubectl-pod_hardener'));
    const env = {
      ...process.env,
      PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}`,
      KUBECONFIG: '/dev/null',
    };
    const list = execFileSync('kubectl', ['plugin', 'list'], {
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    expect(list).to.include(path.join(bin, 'kubectl-pod_hardener'));
    const out = execFileSync('kubectl', ['pod-hardener', 'harden', '-f', 'app/deployment.json'], {
      env,
      cwd: FIXTURES,
      encoding: 'utf8',
    });
    expect(JSON.parse(out).spec.template.spec.securityContext.runAsUser).to.equal(65532);
  });
});
