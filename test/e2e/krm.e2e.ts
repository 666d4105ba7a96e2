/**
 * `pod-hardener fn` as a KRM exec function under a real kustomize (v5, built from the Go modules in
 * test/e2e/kustomize/): a kustomization with a Deployment, a ConfigMap and a transformer whose
 * functionConfig points at `dist/cli.js fn` through a wrapper script. The Deployment's pod template
 * must come out exactly as `pod-hardener harden` writes it with the same configuration, the ConfigMap
 * untouched; a pod the webhook would deny fails the build. Needs no cluster, only the build.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { builtDirectory } from './support/builds.js';
import { e2e } from './support/context.js';

const KUSTOMIZE_BUILD = 'test/e2e/kustomize/build.sh';

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(
  command: string,
  args: readonly string[],
  options: { cwd: string; stdin?: string },
): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(command, args, { cwd: options.cwd, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, stdout, stderr });
    });
    child.stdin?.end(options.stdin ?? '');
  });
}

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: { app: web }
  template:
    metadata:
      labels: { app: web }
    spec:
      containers:
        - name: web
          image: nginx:1.27
          ports: [{ containerPort: 8080 }]
`;

const CONFIGMAP = `apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  annotations: { team: shop }
data:
  level: debug
  runAsUser: "0"
`;

const KUSTOMIZATION = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: shop
resources:
  - deployment.yaml
  - configmap.yaml
transformers:
  - hardener.yaml
`;

function hardenerConfig(spec: string): string {
  return `apiVersion: pod-hardener.io/v1alpha1
kind: HardenerConfig
metadata:
  name: pod-hardener
  annotations:
    config.kubernetes.io/function: |
      exec:
        path: ./pod-hardener-fn
spec:
${spec}`;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- test data read field by field
type Any = any;

function byKind(stream: string): Map<string, Any> {
  return new Map(
    parseAllDocuments(stream).map((doc) => {
      const value = doc.toJS();
      return [value.kind as string, value];
    }),
  );
}

describe('KRM function under kustomize', function () {
  let kustomize: string;
  let dir: string;
  let cli: string;

  before(async function () {
    this.timeout(15 * 60_000);
    const { repoRoot } = e2e();
    kustomize = path.join(builtDirectory(repoRoot, KUSTOMIZE_BUILD, 'E2E_KUSTOMIZE_BIN_DIR'), 'kustomize');
    cli = path.join(repoRoot, 'dist/cli.js');
    dir = await mkdtemp(path.join(os.tmpdir(), 'pod-hardener-krm-'));
    // kustomize runs an exec function by path, with no arguments: a wrapper names the command.
    await writeFile(
      path.join(dir, 'pod-hardener-fn'),
      `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(cli)} fn\n`,
    );
    await chmod(path.join(dir, 'pod-hardener-fn'), 0o755);
    await writeFile(path.join(dir, 'deployment.yaml'), DEPLOYMENT);
    await writeFile(path.join(dir, 'configmap.yaml'), CONFIGMAP);
    await writeFile(path.join(dir, 'kustomization.yaml'), KUSTOMIZATION);
    await writeFile(path.join(dir, 'config.yaml'), 'runAsUser: 10001\n');
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('hardens the pod template exactly as harden does and leaves the ConfigMap alone', async function () {
    this.timeout(60_000);
    await writeFile(path.join(dir, 'hardener.yaml'), hardenerConfig('  runAsUser: 10001\n'));
    const built = await run(kustomize, ['build', '--enable-alpha-plugins', '--enable-exec', '.'], {
      cwd: dir,
    });
    expect(built.code, built.stderr).to.equal(0);
    const out = byKind(built.stdout);
    expect([...out.keys()].sort()).to.deep.equal(['ConfigMap', 'Deployment']);

    const harden = await run(
      process.execPath,
      [cli, 'harden', '--config', 'config.yaml', 'deployment.yaml'],
      {
        cwd: dir,
      },
    );
    expect(harden.code, harden.stderr).to.equal(0);
    const expected = parse(harden.stdout);
    expect(expected.spec.template.spec.securityContext.runAsUser).to.equal(10001);
    const deployment = out.get('Deployment');
    expect(deployment.spec.template).to.deep.equal(expected.spec.template);
    expect(deployment.metadata).to.deep.equal({ name: 'web', namespace: 'shop' });

    const configMap = out.get('ConfigMap');
    expect(configMap).to.deep.equal({
      ...parse(CONFIGMAP),
      metadata: { name: 'settings', namespace: 'shop', annotations: { team: 'shop' } },
    });
  });

  it('fails the build when the webhook would deny a pod', async function () {
    this.timeout(60_000);
    // Caps: a pod with more containers than maxContainers is refused in enforce mode.
    await writeFile(path.join(dir, 'hardener.yaml'), hardenerConfig('  mode: enforce\n'));
    const many = DEPLOYMENT.replace(
      '        - name: web\n',
      Array.from({ length: 300 }, (_, i) => `        - name: c${i}\n          image: busybox\n`).join('') +
        '        - name: web\n',
    );
    await writeFile(path.join(dir, 'deployment.yaml'), many);
    try {
      const built = await run(kustomize, ['build', '--enable-alpha-plugins', '--enable-exec', '.'], {
        cwd: dir,
      });
      expect(built.code).to.not.equal(0);
      expect(built.stderr).to.match(/would deny/);
    } finally {
      await writeFile(path.join(dir, 'deployment.yaml'), DEPLOYMENT);
    }
  });

  it("kubectl's built-in kustomize cannot run it: no --enable-exec, and the exec function is skipped", async function () {
    this.timeout(60_000);
    await writeFile(path.join(dir, 'hardener.yaml'), hardenerConfig('  runAsUser: 10001\n'));
    const kubectl = path.join(e2e().binDir, 'kubectl');
    const withExec = await run(kubectl, ['kustomize', '--enable-alpha-plugins', '--enable-exec', '.'], {
      cwd: dir,
    });
    expect(withExec.code).to.not.equal(0);
    expect(withExec.stderr).to.match(/unknown flag: --enable-exec/);
    // Without the flag, kubectl builds successfully and the Deployment comes out NOT hardened.
    const without = await run(kubectl, ['kustomize', '--enable-alpha-plugins', '.'], { cwd: dir });
    expect(without.code, without.stderr).to.equal(0);
    expect(byKind(without.stdout).get('Deployment').spec.template.spec.securityContext).to.equal(undefined);
  });
});
