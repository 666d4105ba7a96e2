/**
 * The harden command in process: round trips (comments and formatting survive, a second pass changes
 * nothing, other documents are copied byte for byte), bad input, --in-place, --check, --diff, reports.
 */
import { expect } from 'chai';
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, parse, type Document } from 'yaml';
import { parseHardenArguments, runHarden, type HardenInvocation } from '../../src/cli/harden.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- test data read field by field
function toJs(doc: Document): any {
  return doc.toJS();
}

interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function harden(argv: string[], options: { stdin?: string; cwd?: string } = {}): Promise<Outcome> {
  const parsed = parseHardenArguments(argv);
  if (parsed.kind !== 'harden') throw new Error(`arguments did not parse: ${JSON.stringify(parsed)}`);
  return run(parsed.invocation, options);
}

async function run(
  invocation: HardenInvocation,
  options: { stdin?: string; cwd?: string },
): Promise<Outcome> {
  let stdout = '';
  let stderr = '';
  const code = await runHarden(invocation, {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    readStdin: () => Promise.resolve(options.stdin ?? ''),
    cwd: options.cwd ?? FIXTURES,
  });
  return { code, stdout, stderr };
}

let tmp: string;
beforeEach(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'pod-hardener-harden-'));
});
afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('harden', () => {
  it('adds only lines: comments, quoting, flow maps, anchors and blank lines survive', async () => {
    const source = await readFile(path.join(FIXTURES, 'commented.yaml'), 'utf8');
    const { code, stdout } = await harden(['commented.yaml']);
    expect(code).to.equal(0);
    const before = source.split('\n');
    const after = stdout.split('\n');
    // Every source line is still there, in order.
    let at = 0;
    for (const line of before) {
      const found = after.indexOf(line, at);
      expect(found, `line ${JSON.stringify(line)} kept in order`).to.be.greaterThanOrEqual(at);
      at = found + 1;
    }
    expect(stdout).to.include('apiVersion: apps/v1   # trailing comment');
    expect(stdout).to.include('image: &img "nginx:1.25"   # pinned');
    expect(stdout).to.include("pod-hardener.io/writable-paths: '/var/cache/nginx'");
    const hardened = parse(stdout.split('\n---\n')[0] ?? '');
    expect(hardened.spec.template.spec.securityContext.seccompProfile).to.deep.equal({
      type: 'RuntimeDefault',
    });
    expect(hardened.spec.template.spec.containers[1].image).to.equal('nginx:1.25');
    expect(hardened.spec.template.metadata.annotations).to.deep.equal({
      'pod-hardener.io/writable-paths': '/var/cache/nginx',
    });
  });

  it('hardens every workload kind and copies other documents byte for byte', async () => {
    const source = await readFile(path.join(FIXTURES, 'app/workloads.yaml'), 'utf8');
    const { code, stdout } = await harden(['app/workloads.yaml']);
    expect(code).to.equal(0);
    const docs = parseAllDocuments(stdout);
    const values = docs.map(toJs);
    expect(values.map((v): unknown => v.kind)).to.deep.equal([
      'Pod',
      'StatefulSet',
      'DaemonSet',
      'CronJob',
      'Job',
      'Service',
      'List',
    ]);
    expect(values[0].spec.containers[0].securityContext.runAsNonRoot).to.equal(true);
    expect(values[1].spec.template.spec.securityContext.runAsUser).to.equal(999);
    expect(values[1].spec.template.spec.containers[0].resources).to.equal(undefined);
    expect(values[3].spec.jobTemplate.spec.template.spec.securityContext.seccompProfile.type).to.equal(
      'RuntimeDefault',
    );
    for (const item of values[6].items) {
      const template = item.kind === 'PodTemplate' ? item.template : item.spec.template;
      expect(template.spec.containers[0].securityContext.allowPrivilegeEscalation).to.equal(false);
    }
    // The opted-out Job and the Service come out exactly as they went in.
    for (const marker of ['kind: Job', 'kind: Service']) {
      const block = (text: string): string => text.split('---\n').find((d) => d.includes(marker)) ?? '';
      expect(block(stdout)).to.equal(block(source));
    }
    // Record annotations stay with admission: no template gets them.
    expect(stdout).not.to.include('pod-hardener.io/changes');
  });

  it('is idempotent: --check on its own output exits 0, and a second pass changes nothing', async () => {
    await cp(path.join(FIXTURES, 'app'), path.join(tmp, 'app'), { recursive: true });
    await cp(path.join(FIXTURES, 'commented.yaml'), path.join(tmp, 'app/commented.yaml'));
    const first = await harden(['--in-place', 'app'], { cwd: tmp });
    expect(first.code).to.equal(0);
    const once = await Promise.all(
      (await readdir(path.join(tmp, 'app'))).map((f) => readFile(path.join(tmp, 'app', f), 'utf8')),
    );
    const check = await harden(['--check', 'app'], { cwd: tmp });
    expect(check.code, check.stdout).to.equal(0);
    expect(check.stdout).to.equal('');
    await harden(['--in-place', 'app'], { cwd: tmp });
    const twice = await Promise.all(
      (await readdir(path.join(tmp, 'app'))).map((f) => readFile(path.join(tmp, 'app', f), 'utf8')),
    );
    expect(twice).to.deep.equal(once);
    // JSON stays JSON.
    const json = JSON.parse(await readFile(path.join(tmp, 'app/deployment.json'), 'utf8'));
    expect(json.spec.template.spec.securityContext.runAsUser).to.equal(65532);
  });

  it('hardens the app repository fixture (27 workloads) by adding lines only, idempotently', async () => {
    await cp(path.join(FIXTURES, 'app-repo'), path.join(tmp, 'app-repo'), { recursive: true });
    const json = await harden(['--report', 'json', 'app-repo'], { cwd: tmp });
    const { summary } = JSON.parse(json.stdout) as { summary: Record<string, number> };
    expect(summary).to.include({ files: 20, workloads: 27, workloadsChanged: 27 });
    const files = (await readdir(path.join(tmp, 'app-repo'), { recursive: true }))
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => path.join(tmp, 'app-repo', f));
    const before = await Promise.all(files.map((f) => readFile(f, 'utf8')));
    expect((await harden(['--in-place', 'app-repo'], { cwd: tmp })).code).to.equal(0);
    const after = await Promise.all(files.map((f) => readFile(f, 'utf8')));
    for (const [i, source] of before.entries()) {
      const lines = (after[i] ?? '').split('\n');
      let at = 0;
      for (const line of source.split('\n')) {
        at = lines.indexOf(line, at) + 1;
        expect(at, `${files[i] ?? ''}: ${JSON.stringify(line)} kept in order`).to.be.above(0);
      }
    }
    const check = await harden(['--check', 'app-repo'], { cwd: tmp });
    expect(check.code, check.stdout).to.equal(0);
  });

  it('--check lists the changes and exits 1; --diff prints a unified diff', async () => {
    const check = await harden(['--check', 'app/deployment.json']);
    expect(check.code).to.equal(1);
    expect(check.stdout).to.match(/would set spec\.template\.spec\.securityContext\.runAsUser = 65532/);
    const diff = await harden(['--diff', '-'], {
      stdin: await readFile(path.join(FIXTURES, 'commented.yaml'), 'utf8'),
    });
    expect(diff.code).to.equal(0);
    expect(diff.stdout).to.match(/^--- a\/stdin\n\+\+\+ b\/stdin\n@@ -\d+,\d+ \+\d+,\d+ @@/);
    expect(diff.stdout.split('\n').filter((l) => l.startsWith('-') && !l.startsWith('---'))).to.deep.equal(
      [],
    );
  });

  it('--mode warn and audit write nothing but report what would change', async () => {
    const source = await readFile(path.join(FIXTURES, 'app/deployment.json'), 'utf8');
    const warn = await harden(['--mode', 'warn', 'app/deployment.json']);
    expect(warn.stdout).to.equal(source);
    expect(warn.stderr).to.match(
      /would set spec\.template\.spec\.containers\[0\]\.securityContext\.runAsNonRoot/,
    );
    const audit = await harden(['--mode', 'audit', '--check', 'app/deployment.json']);
    expect(audit.code).to.equal(1);
  });

  it('bad input: names file and document, exits 2, and --in-place leaves every file untouched', async () => {
    const good =
      'apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers: [{name: a, image: x}]\n';
    const bad = `${good}---\napiVersion: v1\nkind: Pod\nmetadata: {name: b}\nspec:\n  containers: {name: b}\n`;
    await writeFile(path.join(tmp, 'a.yaml'), good);
    await writeFile(path.join(tmp, 'b.yaml'), bad);
    await writeFile(path.join(tmp, 'c.yaml'), 'kind: Pod\nspec: [unclosed\n');
    const shape = await harden(['--in-place', 'a.yaml', 'b.yaml'], { cwd: tmp });
    expect(shape.code).to.equal(2);
    expect(shape.stderr).to.equal(
      'pod-hardener: b.yaml: document 1: Pod b: spec.containers must be an array\n',
    );
    expect(await readFile(path.join(tmp, 'a.yaml'), 'utf8')).to.equal(good);
    expect(await readFile(path.join(tmp, 'b.yaml'), 'utf8')).to.equal(bad);
    const syntax = await harden(['c.yaml'], { cwd: tmp });
    expect(syntax.code).to.equal(2);
    expect(syntax.stderr).to.match(/^pod-hardener: c\.yaml: document 0: line \d+: /);
    expect(syntax.stderr).not.to.match(/\n\s+at /);
    const missing = await harden(['nope.yaml'], { cwd: tmp });
    expect(missing).to.deep.include({
      code: 2,
      stderr: 'pod-hardener: nope.yaml: no such file or directory\n',
    });
    expect(await readdir(tmp)).to.have.members(['a.yaml', 'b.yaml', 'c.yaml']);
  });

  it('sees requests defaulted from limits, as the API server sends them to the webhook', async () => {
    // A limit without a request: the API server sets the request to the limit before admission, so
    // the webhook keeps 1.5 CPU and 1Gi where the raw template would get the 100m and 128Mi defaults.
    const stdin = [
      'apiVersion: v1',
      'kind: Pod',
      'metadata: {name: limits}',
      'spec:',
      '  containers:',
      '    - name: cpu',
      '      image: example/a:1',
      '      resources:',
      '        limits: {cpu: "1.5"}',
      '    - name: memory',
      '      image: example/b:1',
      '      resources:',
      '        requests: {cpu: 200m}',
      '        limits: {memory: 1Gi}',
      '',
    ].join('\n');
    const out = await harden(['-'], { stdin });
    expect(out.code, out.stderr).to.equal(0);
    const [cpu, memory] = toJs(parseAllDocuments(out.stdout)[0]!).spec.containers;
    expect(cpu.resources).to.deep.equal({
      limits: { cpu: '1.5', memory: '512Mi' },
      requests: { cpu: '1.5', memory: '128Mi' },
    });
    // No 128Mi request: the API server will set 1Gi, as for the webhook.
    expect(memory.resources).to.deep.equal({
      requests: { cpu: '200m' },
      limits: { memory: '1Gi', cpu: '500m' },
    });
    const again = await harden(['--check', '-'], { stdin: out.stdout });
    expect(again.code, again.stdout).to.equal(0);
  });

  it('reports: json, sarif and policyreport', async () => {
    const json = JSON.parse((await harden(['--report', 'json', 'app'])).stdout);
    expect(json.summary).to.include({ files: 2, workloads: 9 });
    const sarif = JSON.parse((await harden(['--report', 'sarif', 'app'])).stdout);
    expect(sarif.version).to.equal('2.1.0');
    const run0 = sarif.runs[0];
    expect(run0.tool.driver.rules.map((r: { id: string }) => r.id)).to.include.members([
      'run-as-non-root',
      'default-resources',
      'pod-security-restricted/privileged',
    ]);
    const violation = run0.results.find(
      (r: { ruleId: string }) => r.ruleId === 'pod-security-restricted/privileged',
    );
    expect(violation.level).to.equal('error');
    expect(violation.locations[0].physicalLocation).to.deep.equal({
      artifactLocation: { uri: 'app/workloads.yaml' },
      region: { startLine: 41 },
    });
    for (const result of run0.results)
      expect(run0.tool.driver.rules[result.ruleIndex].id).to.equal(result.ruleId);
    const reports = parseAllDocuments((await harden(['--report', 'policyreport', 'app'])).stdout).map(toJs);
    expect(reports.map((r): unknown => r.metadata.namespace)).to.deep.equal(['data', 'default', 'shop']);
    for (const r of reports) {
      expect(r).to.include({ apiVersion: 'wgpolicyk8s.io/v1alpha2', kind: 'PolicyReport' });
      const total = Object.values(r.summary as Record<string, number>).reduce((a, b) => a + b, 0);
      expect(total).to.equal(r.results.length);
    }
    const db = reports[0].results.filter(
      (r: { resources: { name: string }[] }) => r.resources[0]?.name === 'db',
    );
    expect(db.find((r: { rule: string }) => r.rule === 'default-resources').result).to.equal('skip');
    expect(db.find((r: { rule: string }) => r.rule === 'run-as-non-root').result).to.equal('fail');
  });

  it('--report-file keeps stdout for the manifests; --config sets the defaults', async () => {
    await writeFile(
      path.join(tmp, 'config.yaml'),
      'runAsUser: 4242\ndisabledControls: [default-resources]\n',
    );
    const out = await harden(
      [
        '--config',
        'config.yaml',
        '--report',
        'text',
        '--report-file',
        'r.txt',
        path.join(FIXTURES, 'app/deployment.json'),
      ],
      { cwd: tmp },
    );
    expect(out.code).to.equal(0);
    const hardened = JSON.parse(out.stdout);
    expect(hardened.spec.template.spec.securityContext.runAsUser).to.equal(4242);
    expect(hardened.spec.template.spec.containers[0].resources).to.equal(undefined);
    expect(await readFile(path.join(tmp, 'r.txt'), 'utf8')).to.match(/1 workload in 1 file: 1 hardened/);
  });
});

describe('harden arguments', () => {
  it('reads -f like a path, stdin by default, and refuses contradictions', () => {
    const parsed = parseHardenArguments(['-f', 'a.yaml', 'b']);
    expect(parsed.kind === 'harden' && parsed.invocation.paths).to.deep.equal(['b', 'a.yaml']);
    const none = parseHardenArguments([]);
    expect(none.kind === 'harden' && none.invocation.paths).to.deep.equal(['-']);
    expect(parseHardenArguments(['--in-place', '--check', 'a']).kind).to.equal('misuse');
    expect(parseHardenArguments(['--in-place']).kind).to.equal('misuse');
    expect(parseHardenArguments(['--mode', 'strict']).kind).to.equal('misuse');
    expect(parseHardenArguments(['--report', 'html']).kind).to.equal('misuse');
  });
});
