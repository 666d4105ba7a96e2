import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { profileForImage } from '../../src/engine/resolve/resolve.js';

const repoFile = (name: string): string => readFileSync(new URL(`../../${name}`, import.meta.url), 'utf8');

function load(yaml: string) {
  return loadConfig({ env: {}, argvFlags: { config: '/etc/ph.yaml' }, readFile: () => yaml });
}

function problemsOf(yaml: string): readonly string[] {
  try {
    load(yaml);
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  expect.fail('expected a ConfigError');
}

describe('config: imageProfiles', () => {
  it('reads a profile, normalising its paths and dropping repeats', () => {
    const config = load(
      [
        'imageProfiles:',
        '  - name: nginx',
        '    images: ["docker.io/library/nginx:*", "nginx:*", "nginx"]',
        '    runAsUser: 101',
        '    runAsGroup: 101',
        '    writablePaths: [/var/cache/nginx/, /var//run, /var/run]',
        '    keepCapabilities: [NET_BIND_SERVICE]',
        '    skipControls: []',
        '    resources: {requests: {memory: 64Mi}, limits: {cpu: "1"}}',
        '  - {name: legacy, images: ["legacy:*"], runAsRoot: true}',
      ].join('\n'),
    );
    expect(config.engine.imageProfiles).to.deep.equal([
      {
        name: 'nginx',
        images: ['docker.io/library/nginx:*', 'nginx:*', 'nginx'],
        runAsUser: 101,
        runAsGroup: 101,
        writablePaths: ['/var/cache/nginx', '/var/run'],
        keepCapabilities: ['NET_BIND_SERVICE'],
        skipControls: [],
        resources: { requests: { memory: '64Mi' }, limits: { cpu: '1' } },
      },
      { name: 'legacy', images: ['legacy:*'], runAsRoot: true },
    ]);
  });

  it('is off by default, and an empty value keeps it off', () => {
    expect(loadConfig({ env: {} }).engine.imageProfiles).to.deep.equal([]);
    expect(load('imageProfiles:\n').engine.imageProfiles).to.deep.equal([]);
  });

  it('reports every mistake at once: bad globs, UID 0, relative and unsafe paths, unknown controls, ...', () => {
    const problems = problemsOf(
      [
        'imageProfiles:',
        '  - name: a',
        '    images: ["nginx:[0-9]*", "", "registry/**"]',
        '    runAsUser: 0',
        '    runAsGroup: -5',
        '    writablePaths: [var/cache, /proc/x, "/a/../b"]',
        '    keepCapabilities: [ALL, net_admin]',
        '    skipControls: [run-as-root]',
        '    resources: {requests: {memory: 2Gi}, limits: {memory: 1Gi, gpu: 1}}',
        '    runasuser: 5',
        '  - name: a',
        '    images: [x]',
        '  - images: [y]',
        '  - {name: root, images: [z], runAsRoot: true, runAsUser: 5}',
        '  - {name: noimages}',
        '  - just a string',
      ].join('\n'),
    );
    const expected = [
      'imageProfiles[0] (a).images glob "nginx:[0-9]*" may contain only the characters',
      'imageProfiles[0] (a).images glob "" is empty',
      'imageProfiles[0] (a).images glob "registry/**" uses **',
      'imageProfiles[0] (a).runAsUser must not be 0 (root); for an image that must run as root, write runAsRoot: true',
      'imageProfiles[0] (a).runAsGroup must be a positive integer',
      'imageProfiles[0] (a).writablePaths entry "var/cache" is not an absolute path',
      'imageProfiles[0] (a).writablePaths entry "/proc/x" is refused: an emptyDir there would hide a kernel filesystem',
      'imageProfiles[0] (a).writablePaths entry "/a/../b" is not an absolute path',
      'imageProfiles[0] (a).keepCapabilities must not contain ALL',
      'imageProfiles[0] (a).keepCapabilities entry "net_admin" is not a capability name',
      'imageProfiles[0] (a).skipControls has unknown control id "run-as-root"',
      'imageProfiles[0] (a).resources.limits has unknown key "gpu"',
      'imageProfiles[0] (a).resources.requests.memory is above resources.limits.memory',
      'imageProfiles[0] (a): unknown key "runasuser" (did you mean "runAsUser"?)',
      'imageProfiles[1].name "a" is used twice',
      'imageProfiles[2].name is required',
      'imageProfiles[3] (root).runAsRoot cannot go with runAsUser or runAsGroup',
      'imageProfiles[4] (noimages).images must be a non-empty list of globs',
      'imageProfiles[5] must be a mapping',
    ];
    for (const fragment of expected)
      expect(
        problems.some((p) => p.includes(fragment)),
        `no problem mentions ${JSON.stringify(fragment)} in:\n${problems.join('\n')}`,
      ).to.equal(true);
    expect(problems.every((p) => p.endsWith('(from /etc/ph.yaml: imageProfiles)'))).to.equal(true);
  });

  it('must be a list', () => {
    expect(problemsOf('imageProfiles: {name: a}')[0]).to.include('imageProfiles must be a list of profiles');
  });

  describe('the shipped example, examples/image-profiles.yaml', () => {
    const example = repoFile('examples/image-profiles.yaml');

    it('loads on its own, every entry valid and naming where its values come from', () => {
      const { imageProfiles } = load(example).engine;
      expect(imageProfiles.map((p) => p.name)).to.include.members([
        'e2e-nginx',
        'e2e-redis',
        'e2e-postgresql',
        'nginx',
        'redis',
        'postgres',
      ]);
      // Every entry says where its values come from: a comment before it or inside it.
      const blocks = example.split('\n  - name: ');
      blocks.slice(1).forEach((block, i) => {
        const before = (blocks[i] ?? '').trimEnd().split('\n').at(-1) ?? '';
        expect(/^\s*#/.test(before) || /\n\s*#/.test(block), `source of ${block.split('\n')[0]}`).to.equal(
          true,
        );
      });
    });

    it('gives each image the intended profile, the first match winning', () => {
      const { imageProfiles } = load(example).engine;
      const cases: [string, string | undefined][] = [
        ['nginx', 'nginx'],
        ['nginx:1.27', 'nginx'],
        ['docker.io/library/nginx:1.27-alpine', 'nginx'],
        ['nginx@sha256:4c0fdaa8b6341bfdeca5f18f7837462c80cff90527ee35ef185571e1c327beac', 'nginx'],
        ['postgres:16-alpine', 'postgres-alpine'],
        ['postgres:16', 'postgres'],
        ['redis:7', 'redis'],
        ['localhost/e2e/nginx:latest', 'e2e-nginx'],
        ['localhost/e2e/nginx:unprofiled', undefined],
        ['localhost/e2e/busybox:latest', undefined],
        ['busybox:1.36', undefined],
        ['evil.example.com/nginx:1.27', undefined],
      ];
      for (const [image, name] of cases)
        expect(profileForImage(imageProfiles, image)?.name, image).to.equal(name);
    });

    it('is what the node suite deploys: its config.yaml is the shipped one with the example appended', () => {
      const base = repoFile('manifests/base/config.yaml');
      const overlay = repoFile('test/e2e/node/overlay/config.yaml');
      expect(overlay.startsWith(base), 'starts with manifests/base/config.yaml').to.equal(true);
      expect(overlay.endsWith(example), 'ends with examples/image-profiles.yaml').to.equal(true);
      const config = loadConfig({
        env: { KUBERNETES_SERVICE_HOST: '10.96.0.1', POD_HARDENER_NAMESPACE: 'pod-hardener-system' },
        argvFlags: { config: '/etc/pod-hardener/config.yaml' },
        readFile: () => overlay,
      });
      expect(config.engine.imageProfiles).to.deep.equal(load(example).engine.imageProfiles);
    });
  });
});
