/**
 * `pod-hardener fn`, the KRM function, in process: ResourceList in and out, results, functionConfig
 * (ConfigMap and HardenerConfig), the same hardening as `harden`, and errors.
 */
import { expect } from 'chai';
import { parse } from 'yaml';
import { runFn } from '../../src/cli/fn.js';
import { parseArguments } from '../../src/cli/args.js';
import { parseHardenArguments, runHarden } from '../../src/cli/harden.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- test data read field by field
type Any = any;

async function fn(
  stdin: string,
  argv: string[] = [],
): Promise<{ code: number; out: Any; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runFn(argv, {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    readStdin: () => Promise.resolve(stdin),
  });
  return { code, out: argv.length > 0 ? undefined : parse(stdout), stdout, stderr };
}

async function harden(stdin: string, argv: string[] = []): Promise<string> {
  const parsed = parseHardenArguments([...argv, '-']);
  if (parsed.kind !== 'harden') throw new Error('arguments did not parse');
  let stdout = '';
  const code = await runHarden(parsed.invocation, {
    stdout: (text) => (stdout += text),
    stderr: () => undefined,
    readStdin: () => Promise.resolve(stdin),
    cwd: process.cwd(),
  });
  expect(code).to.equal(0);
  return stdout;
}

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  annotations:
    config.kubernetes.io/index: '0'
    internal.config.kubernetes.io/path: apps/web.yaml
    internal.config.kubernetes.io/index: '2'
spec:
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers:
        - name: web # the app
          image: nginx
`;

function indent(text: string, spaces: number): string {
  return text
    .trimEnd()
    .split('\n')
    .map((line, i) => (i === 0 ? line : ' '.repeat(spaces) + line))
    .join('\n');
}

function resourceList(items: readonly string[], functionConfig?: string): string {
  let text = 'apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n';
  for (const item of items) text += `  - ${indent(item, 4)}\n`;
  if (functionConfig !== undefined) text += `functionConfig:\n  ${indent(functionConfig, 2)}\n`;
  return text;
}

const CONFIGMAP_ITEM = `apiVersion: v1
kind: ConfigMap
metadata: { name: settings }
data: { level: debug }
`;

describe('fn (KRM function)', () => {
  it('parses as its own command', () => {
    expect(parseArguments(['fn'])).to.deep.equal({ kind: 'fn', argv: [] });
    // --help before the command is the command's help.
    expect(parseArguments(['--help', 'fn'])).to.deep.equal({ kind: 'fn', argv: ['--help'] });
  });

  it('hardens workload items exactly as harden does and passes other items through', async () => {
    const { code, out, stdout } = await fn(resourceList([DEPLOYMENT, CONFIGMAP_ITEM]));
    expect(code).to.equal(0);
    expect(out.apiVersion).to.equal('config.kubernetes.io/v1');
    expect(out.kind).to.equal('ResourceList');
    expect(out.items).to.have.length(2);
    const hardened = parse(await harden(DEPLOYMENT));
    expect(out.items[0]).to.deep.equal(hardened);
    expect(out.items[0].metadata.annotations['internal.config.kubernetes.io/path']).to.equal('apps/web.yaml');
    expect(out.items[1]).to.deep.equal(parse(CONFIGMAP_ITEM));
    expect(stdout).to.contain('- name: web # the app');
  });

  it('reports each field set with the resource, file, field path, proposed value and severity', async () => {
    const { out } = await fn(resourceList([DEPLOYMENT]));
    const results = out.results as Any[];
    expect(results.length).to.be.greaterThan(5);
    const runAsNonRoot = results.find(
      (r) => r.field?.path === 'spec.template.spec.containers[0].securityContext.runAsNonRoot',
    );
    expect(runAsNonRoot).to.deep.equal({
      message: 'run-as-non-root: set spec.template.spec.containers[0].securityContext.runAsNonRoot',
      severity: 'info',
      resourceRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', namespace: 'shop' },
      file: { path: 'apps/web.yaml', index: 2 },
      field: { path: 'spec.template.spec.containers[0].securityContext.runAsNonRoot', proposedValue: true },
      tags: { control: 'run-as-non-root' },
    });
    expect(results.every((r) => r.severity === 'info')).to.equal(true);
  });

  it('reads the legacy config.kubernetes.io/path annotation', async () => {
    const legacy = DEPLOYMENT.replace(
      'internal.config.kubernetes.io/path',
      'config.kubernetes.io/path',
    ).replace("    internal.config.kubernetes.io/index: '2'\n", '');
    const { out } = await fn(resourceList([legacy]));
    expect(out.results[0].file).to.deep.equal({ path: 'apps/web.yaml', index: 0 });
  });

  it('takes the configuration from a HardenerConfig functionConfig', async () => {
    const config =
      'apiVersion: pod-hardener.io/v1alpha1\nkind: HardenerConfig\nmetadata: { name: x }\nspec:\n  runAsUser: 10001\n  disabledControls: [default-resources]\n';
    const { code, out } = await fn(resourceList([DEPLOYMENT], config));
    expect(code).to.equal(0);
    const spec = out.items[0].spec.template.spec;
    expect(spec.securityContext.runAsUser).to.equal(10001);
    expect(spec.containers[0].resources).to.equal(undefined);
    expect(out.functionConfig.spec.runAsUser).to.equal(10001);
  });

  it('takes mode and configuration keys from a ConfigMap functionConfig; warn writes nothing', async () => {
    const config =
      'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: x }\ndata:\n  mode: warn\n  runAsUser: "20000"\n';
    const { code, out } = await fn(resourceList([DEPLOYMENT, CONFIGMAP_ITEM], config));
    expect(code).to.equal(0);
    expect(out.items[0]).to.deep.equal(parse(DEPLOYMENT));
    const runAsUser = (out.results as Any[]).find((r) => r.field?.path.endsWith('securityContext.runAsUser'));
    expect(runAsUser.severity).to.equal('warning');
    expect(runAsUser.field.proposedValue).to.equal(20000);
    expect(runAsUser.message).to.match(/would set/);
  });

  it('reports a skipped workload as info and a residual violation as a warning', async () => {
    const skipped = DEPLOYMENT.replace(
      'metadata: { labels: { app: web } }',
      "metadata: { annotations: { pod-hardener.io/skip: 'true' } }",
    );
    const privileged = DEPLOYMENT.replace(
      'image: nginx',
      'image: nginx\n          securityContext: { privileged: true }',
    );
    const { code, out } = await fn(resourceList([skipped]));
    expect(code).to.equal(0);
    expect(out.results).to.have.length(1);
    expect(out.results[0]).to.include({ severity: 'info' });
    expect(out.results[0].message).to.match(/^skipped/);
    const second = await fn(resourceList([privileged]));
    expect(second.code).to.equal(0);
    const violation = (second.out.results as Any[]).find((r) => r.tags?.check !== undefined);
    expect(violation.severity).to.equal('warning');
    expect(violation.message).to.match(/privileged/);
  });

  it('exits 1 with an error result for a pod the webhook would deny', async () => {
    const containers = Array.from(
      { length: 251 },
      (_, i) => `        - { name: c${i}, image: busybox }`,
    ).join('\n');
    const many = DEPLOYMENT.replace(/ {6}containers:\n[\s\S]*$/, `      containers:\n${containers}\n`);
    const { code, out, stderr } = await fn(resourceList([many]));
    expect(code).to.equal(1);
    expect(out.results[0].severity).to.equal('error');
    expect(out.results[0].resourceRef.name).to.equal('web');
    expect(stderr).to.match(/Deployment shop\/web: the webhook would deny the pod/);
  });

  it('exits 1 with an error result for bad input, items unchanged', async () => {
    const broken = DEPLOYMENT.replace(/ {6}containers:\n[\s\S]*$/, '      containers: nope\n');
    for (const [input, pattern] of [
      ['kind: Deployment\n', /must be a ResourceList/],
      ['{ not: yaml', /not YAML/],
      [resourceList([DEPLOYMENT], 'apiVersion: v1\nkind: Secret\n'), /functionConfig must be a v1 ConfigMap/],
      [resourceList([DEPLOYMENT], 'apiVersion: v1\nkind: ConfigMap\ndata: { mode: loud }\n'), /mode must be/],
      [
        resourceList([DEPLOYMENT], 'apiVersion: v1\nkind: ConfigMap\ndata: { runAsUser: "-1" }\n'),
        /runAsUser/,
      ],
      [resourceList([broken]), /containers must be an array/],
    ] as const) {
      const { code, out, stderr } = await fn(input);
      expect(code, input).to.equal(1);
      expect(out.kind).to.equal('ResourceList');
      expect(out.results.at(-1).severity).to.equal('error');
      expect(out.results.at(-1).message).to.match(pattern);
      expect(stderr).to.match(pattern);
      if (input.startsWith('apiVersion: config')) expect(out.items).to.deep.equal(parse(input).items);
      else expect(out.items).to.deep.equal([]);
    }
  });

  it('keeps earlier results and refuses arguments', async () => {
    const input = `${resourceList([CONFIGMAP_ITEM])}results:\n  - { message: earlier, severity: info }\n`;
    const { code, out } = await fn(input);
    expect(code).to.equal(0);
    expect(out.results).to.deep.equal([{ message: 'earlier', severity: 'info' }]);
    expect((await fn('', ['--foo'])).code).to.equal(2);
    expect((await fn('', ['--help'])).stdout).to.match(/^Usage: pod-hardener fn/);
  });
});
