import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { createSelfSignedCertificate, writeCertificateFiles } from '../src/tls/self-signed.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'src', 'cli.ts');
const WAIT_LIMIT_MS = 30_000;

/** The test's own environment minus anything that would point the CLI at a cluster or configure it. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('POD_HARDENER_') && !key.startsWith('KUBERNETES_') && key !== 'KUBECONFIG') {
      env[key] = value;
    }
  }
  return { ...env, ...extra };
}

interface Run {
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children: ChildProcess[] = [];

function run(args: string[], env: NodeJS.ProcessEnv = cleanEnv()): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      resolve({ code, signal });
    });
  });
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

async function within<T>(what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`timed out waiting for ${what}`));
    }, WAIT_LIMIT_MS);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function listeningPort(r: Run): Promise<number> {
  return within(
    'the listening log line',
    new Promise<number>((resolve, reject) => {
      const check = (): void => {
        for (const line of r.stdout().split('\n')) {
          if (!line.startsWith('{')) continue;
          const entry = JSON.parse(line) as { message?: string; port?: number };
          if (entry.message === 'pod-hardener listening' && typeof entry.port === 'number') {
            resolve(entry.port);
            return;
          }
        }
        if (r.child.exitCode !== null) {
          reject(new Error(`exited early (${r.child.exitCode}): ${r.stderr()}`));
          return;
        }
        setTimeout(check, 50);
      };
      check();
    }),
  );
}

function get(
  port: number,
  urlPath: string,
  ca: Buffer | string,
): Promise<{ status: number; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    https
      .get({ host: 'localhost', port, path: urlPath, ca, agent: false }, (res) => {
        const fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
        res.resume();
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, fingerprint });
        });
      })
      .on('error', reject);
  });
}

describe('cli', () => {
  let tmp: string;

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'pod-hardener-cli-test-'));
  });

  after(async () => {
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await rm(tmp, { recursive: true, force: true });
  });

  it('prints its version', async () => {
    const r = run(['--version']);
    const { code } = await within('exit', r.exited);
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(code).to.equal(0);
    expect(r.stdout().trim()).to.equal(pkg.version);
  });

  it('prints usage for --help', async () => {
    const r = run(['--help']);
    const { code } = await within('exit', r.exited);
    expect(code).to.equal(0);
    expect(r.stdout()).to.include('Usage: pod-hardener [global options] serve');
    expect(r.stdout()).to.include('--tls-cert FILE');
    expect(r.stdout()).to.include('--tls-mode MODE');
    expect(r.stdout()).to.include('self-managed');
  });

  it('exits 2 with usage for an unknown flag, an unknown command or no command', async () => {
    for (const args of [['serve', '--prot', '1'], ['launch'], []]) {
      const r = run(args);
      const { code } = await within('exit', r.exited);
      expect(code, args.join(' ')).to.equal(2);
      expect(r.stderr()).to.include('Usage: pod-hardener');
      expect(r.stderr()).not.to.match(/\n\s+at /);
    }
  });

  it('exits 2 listing every configuration problem, without a stack trace', async () => {
    const r = run(
      ['serve', '--port', '99999', '--default-mode', 'block'],
      cleanEnv({ POD_HARDENER_RUN_AS_USER: '0' }),
    );
    const { code } = await within('exit', r.exited);
    expect(code).to.equal(2);
    expect(r.stderr()).to.include('invalid configuration');
    expect(r.stderr()).to.include('port must be an integer from 0 to 65535');
    expect(r.stderr()).to.include('defaultMode must be one of enforce, warn, audit');
    expect(r.stderr()).to.include('runAsUser must not be 0 (root)');
    expect(r.stderr()).not.to.match(/\n\s+at /);
    expect(r.stdout()).to.equal('');
  });

  it('exits 2 when self-managed TLS has no cluster and no namespace', async () => {
    const r = run(['serve', '--tls-mode', 'self-managed']);
    const { code } = await within('exit', r.exited);
    expect(code).to.equal(2);
    expect(r.stderr()).to.include('tlsMode self-managed needs cluster access');
    expect(r.stderr()).to.include('tlsMode self-managed needs namespace');
    expect(r.stdout()).to.equal('');
  });

  it('serves with a generated certificate, and exits 0 promptly on SIGTERM', async () => {
    const r = run(['serve', '--port', '0'], cleanEnv({ POD_HARDENER_SHUTDOWN_DELAY_SECONDS: '0' }));
    const port = await listeningPort(r);

    // stderr is a separate pipe: its line may arrive after the listening line on stdout.
    await within(
      'the certificate hint on stderr',
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (r.stderr().includes('curl --cacert') || r.child.exitCode !== null) resolve();
          else setTimeout(check, 50);
        };
        check();
      }),
    );
    const certPath = /certificate: (\S+)/.exec(r.stderr())?.[1];
    expect(certPath, r.stderr()).to.be.a('string');
    expect(r.stderr()).to.include(`curl --cacert ${certPath ?? ''} https://localhost:${port}/healthz`);
    const ca = await readFile(certPath ?? '');
    expect((await get(port, '/healthz', ca)).status).to.equal(200);
    expect((await get(port, '/readyz', ca)).status).to.equal(200);

    const listening = r
      .stdout()
      .split('\n')
      .find((l) => l.includes('pod-hardener listening'));
    expect(JSON.parse(listening ?? '{}')).to.include({
      cluster: 'off',
      tls: 'self-signed',
      defaultMode: 'enforce',
    });

    r.child.kill('SIGTERM');
    const { code, signal } = await within('exit after SIGTERM', r.exited);
    expect({ code, signal }).to.deep.equal({ code: 0, signal: null });
    expect(r.stdout()).to.include('shutdown complete');
    // The throwaway key does not outlive the process.
    expect(existsSync(path.dirname(certPath ?? ''))).to.equal(false);
  });

  it('serves the certificate it is given, with settings from a config file', async () => {
    const pair = await createSelfSignedCertificate();
    const files = await writeCertificateFiles(path.join(tmp, 'given'), pair);
    const configFile = path.join(tmp, 'config.yaml');
    await writeFile(configFile, 'defaultMode: audit\nshutdownDelaySeconds: 0\n');
    const r = run([
      'serve',
      '--port',
      '0',
      '--tls-cert',
      files.certFile,
      '--tls-key',
      files.keyFile,
      '--config',
      configFile,
    ]);
    const port = await listeningPort(r);
    const res = await get(port, '/healthz', pair.certPem);
    expect(res.status).to.equal(200);
    expect(res.fingerprint).to.equal(new X509Certificate(pair.certPem).fingerprint256);
    expect(r.stderr()).not.to.include('self-signed');
    const listening = r
      .stdout()
      .split('\n')
      .find((l) => l.includes('pod-hardener listening'));
    expect(JSON.parse(listening ?? '{}')).to.include({ tls: 'files', defaultMode: 'audit', configFile });

    r.child.kill('SIGTERM');
    expect(await within('exit after SIGTERM', r.exited)).to.deep.equal({ code: 0, signal: null });
    expect(existsSync(files.keyFile), 'given files are not ours to delete').to.equal(true);
  });
});
