import { expect } from 'chai';
import {
  readOnlyRootFilesystem,
  volumeBaseName,
} from '../../../src/engine/controls/read-only-root-filesystem.js';
import type { Pod } from '../../../src/engine/pod/model.js';
import { applyControl, describeControlTable, type ControlRow } from '../../support/control-harness.js';

const roOf = (pointer: string): string => `${pointer}/securityContext/readOnlyRootFilesystem`;
const mountsOf = (pointer: string): string => `${pointer}/volumeMounts`;
const TMP = 'pod-hardener-tmp';
const emptyDir = (name: string, sizeLimit = '256Mi') => ({ name, emptyDir: { sizeLimit } });
const mount = (name: string, mountPath: string) => ({ name, mountPath });
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const rows: ControlRow[] = [
  {
    name: 'plain pod: read-only root, one /tmp emptyDir and its mount',
    pod: { spec: { containers: [{ name: 'app' }] } },
    expectChanges: [
      { target: 'app', path: roOf('/spec/containers/0'), value: true },
      { target: 'pod', path: '/spec/volumes', value: [emptyDir(TMP)] },
      { target: 'app', path: mountsOf('/spec/containers/0'), value: [mount(TMP, '/tmp')] },
    ],
  },
  {
    name: 'existing volumes and mounts: appended, never reordered',
    pod: {
      spec: {
        volumes: [{ name: 'config', configMap: { name: 'cfg' } }],
        containers: [{ name: 'app', volumeMounts: [mount('config', '/etc/app')] }],
      },
    },
    expectChanges: [
      { target: 'app', path: roOf('/spec/containers/0'), value: true },
      { target: 'pod', path: '/spec/volumes/1', value: emptyDir(TMP) },
      { target: 'app', path: `${mountsOf('/spec/containers/0')}/1`, value: mount(TMP, '/tmp') },
    ],
  },
  {
    name: 'sizeLimit comes from settings',
    pod: { spec: { containers: [{ name: 'app' }] } },
    policy: { writableVolumeSizeLimit: '64Mi' },
    expectChanges: [
      { target: 'app', path: roOf('/spec/containers/0'), value: true },
      { target: 'pod', path: '/spec/volumes', value: [emptyDir(TMP, '64Mi')] },
      { target: 'app', path: mountsOf('/spec/containers/0'), value: [mount(TMP, '/tmp')] },
    ],
  },
  {
    // Two mounts at one mountPath fail validation (kubeflow/spark-operator#1000).
    name: 'container already mounts /tmp: no volume, no mount',
    pod: {
      spec: {
        volumes: [{ name: 'scratch', emptyDir: {} }],
        containers: [{ name: 'app', volumeMounts: [mount('scratch', '/tmp')] }],
      },
    },
    expectChanges: [{ target: 'app', path: roOf('/spec/containers/0'), value: true }],
  },
  {
    name: 'container mounts /tmp/ with a trailing slash: same path, respected',
    pod: {
      spec: {
        volumes: [{ name: 'scratch', emptyDir: {} }],
        containers: [{ name: 'app', volumeMounts: [mount('scratch', '/tmp/')] }],
      },
    },
    expectChanges: [{ target: 'app', path: roOf('/spec/containers/0'), value: true }],
  },
  {
    name: 'container mounts //tmp/./ : the same path once normalised, respected',
    pod: {
      spec: {
        volumes: [{ name: 'scratch', emptyDir: {} }],
        containers: [{ name: 'app', volumeMounts: [mount('scratch', '//tmp/./')] }],
      },
    },
    expectChanges: [{ target: 'app', path: roOf('/spec/containers/0'), value: true }],
  },
  {
    name: 'a mount below /tmp is not a mount at /tmp',
    pod: {
      spec: {
        volumes: [{ name: 'sock', emptyDir: {} }],
        containers: [{ name: 'app', volumeMounts: [mount('sock', '/tmp/sock')] }],
      },
    },
    expectChanges: [
      { target: 'app', path: roOf('/spec/containers/0'), value: true },
      { target: 'pod', path: '/spec/volumes/1', value: emptyDir(TMP) },
      { target: 'app', path: `${mountsOf('/spec/containers/0')}/1`, value: mount(TMP, '/tmp') },
    ],
  },
  {
    name: 'volume name taken by a configMap: the next free name is used',
    pod: {
      spec: {
        volumes: [{ name: TMP, configMap: { name: 'theirs' } }],
        containers: [{ name: 'app' }],
      },
    },
    expectChanges: [
      { target: 'app', path: roOf('/spec/containers/0'), value: true },
      { target: 'pod', path: '/spec/volumes/1', value: emptyDir(`${TMP}--2`) },
      { target: 'app', path: mountsOf('/spec/containers/0'), value: [mount(`${TMP}--2`, '/tmp')] },
    ],
    expectDraftSubset: { spec: { volumes: [{ name: TMP, configMap: { name: 'theirs' } }, {}] } },
  },
  {
    name: 'first two names taken by non-emptyDir volumes: --3',
    pod: {
      spec: {
        volumes: [
          { name: TMP, configMap: { name: 'a' } },
          { name: `${TMP}--2`, secret: { secretName: 'b' } },
        ],
        containers: [{ name: 'app' }],
      },
    },
    expectChanges: [
      { target: 'app', path: roOf('/spec/containers/0'), value: true },
      { target: 'pod', path: '/spec/volumes/2', value: emptyDir(`${TMP}--3`) },
      { target: 'app', path: mountsOf('/spec/containers/0'), value: [mount(`${TMP}--3`, '/tmp')] },
    ],
  },
  {
    // Non-idempotent volume injection duplicates volumes (network-resources-injector#224).
    name: 'reinvocation: the emptyDir from the first pass is reused for a container added since',
    pod: {
      spec: {
        volumes: [emptyDir(TMP)],
        containers: [
          {
            name: 'app',
            securityContext: { readOnlyRootFilesystem: true },
            volumeMounts: [mount(TMP, '/tmp')],
          },
          { name: 'istio-proxy' },
        ],
      },
    },
    expectChanges: [
      { target: 'istio-proxy', path: roOf('/spec/containers/1'), value: true },
      { target: 'istio-proxy', path: mountsOf('/spec/containers/1'), value: [mount(TMP, '/tmp')] },
    ],
  },
  {
    name: 'reinvocation after a name collision: the --2 emptyDir is found again',
    pod: {
      spec: {
        volumes: [{ name: TMP, configMap: { name: 'theirs' } }, emptyDir(`${TMP}--2`)],
        containers: [{ name: 'late' }],
      },
    },
    expectChanges: [
      { target: 'late', path: roOf('/spec/containers/0'), value: true },
      { target: 'late', path: mountsOf('/spec/containers/0'), value: [mount(`${TMP}--2`, '/tmp')] },
    ],
  },
  {
    name: 'explicit readOnlyRootFilesystem: false: it can already write, no mount',
    pod: { spec: { containers: [{ name: 'app', securityContext: { readOnlyRootFilesystem: false } }] } },
    expectChanges: [],
    expectSkips: [{ target: 'app', reasonIncludes: 'readOnlyRootFilesystem: false' }],
  },
  {
    name: 'explicit readOnlyRootFilesystem: true: the mount is still added',
    pod: { spec: { containers: [{ name: 'app', securityContext: { readOnlyRootFilesystem: true } }] } },
    expectChanges: [
      { target: 'pod', path: '/spec/volumes', value: [emptyDir(TMP)] },
      { target: 'app', path: mountsOf('/spec/containers/0'), value: [mount(TMP, '/tmp')] },
    ],
  },
  {
    // nginx also writes /var/cache/nginx and /var/run (docker-library/docs#2198).
    name: 'writable paths: one volume per path, shared by every container',
    pod: {
      metadata: { annotations: { 'pod-hardener.io/writable-paths': '/var/cache/nginx, /var/run/' } },
      spec: { containers: [{ name: 'nginx' }, { name: 'exporter' }] },
    },
    expectChanges: [
      { target: 'nginx', path: roOf('/spec/containers/0'), value: true },
      { target: 'pod', path: '/spec/volumes', value: [emptyDir(TMP)] },
      { target: 'nginx', path: mountsOf('/spec/containers/0'), value: [mount(TMP, '/tmp')] },
      { target: 'pod', path: '/spec/volumes/1', value: emptyDir('pod-hardener-var-cache-nginx') },
      {
        target: 'nginx',
        path: `${mountsOf('/spec/containers/0')}/1`,
        value: mount('pod-hardener-var-cache-nginx', '/var/cache/nginx'),
      },
      { target: 'pod', path: '/spec/volumes/2', value: emptyDir('pod-hardener-var-run') },
      {
        target: 'nginx',
        path: `${mountsOf('/spec/containers/0')}/2`,
        value: mount('pod-hardener-var-run', '/var/run'),
      },
      { target: 'exporter', path: roOf('/spec/containers/1'), value: true },
      { target: 'exporter', path: mountsOf('/spec/containers/1'), value: [mount(TMP, '/tmp')] },
      {
        target: 'exporter',
        path: `${mountsOf('/spec/containers/1')}/1`,
        value: mount('pod-hardener-var-cache-nginx', '/var/cache/nginx'),
      },
      {
        target: 'exporter',
        path: `${mountsOf('/spec/containers/1')}/2`,
        value: mount('pod-hardener-var-run', '/var/run'),
      },
    ],
  },
  {
    name: 'writable path already mounted by one container: only the others get the shared volume',
    pod: {
      metadata: { annotations: { 'pod-hardener.io/writable-paths': '/var/run' } },
      spec: {
        volumes: [{ name: 'run', emptyDir: {} }],
        containers: [
          { name: 'a', volumeMounts: [mount('run', '/var/run')] },
          { name: 'b', securityContext: { readOnlyRootFilesystem: true } },
        ],
      },
    },
    expectChanges: [
      { target: 'a', path: roOf('/spec/containers/0'), value: true },
      { target: 'pod', path: '/spec/volumes/1', value: emptyDir(TMP) },
      { target: 'a', path: `${mountsOf('/spec/containers/0')}/1`, value: mount(TMP, '/tmp') },
      { target: 'b', path: mountsOf('/spec/containers/1'), value: [mount(TMP, '/tmp')] },
      { target: 'pod', path: '/spec/volumes/2', value: emptyDir('pod-hardener-var-run') },
      {
        target: 'b',
        path: `${mountsOf('/spec/containers/1')}/1`,
        value: mount('pod-hardener-var-run', '/var/run'),
      },
    ],
  },
  {
    name: 'init, regular and ephemeral containers share the one /tmp volume',
    pod: {
      spec: {
        initContainers: [{ name: 'init' }],
        containers: [{ name: 'app' }],
        ephemeralContainers: [{ name: 'debug' }],
      },
    },
    expectChanges: [
      { target: 'init', path: roOf('/spec/initContainers/0'), value: true },
      { target: 'pod', path: '/spec/volumes', value: [emptyDir(TMP)] },
      { target: 'init', path: mountsOf('/spec/initContainers/0'), value: [mount(TMP, '/tmp')] },
      { target: 'app', path: roOf('/spec/containers/0'), value: true },
      { target: 'app', path: mountsOf('/spec/containers/0'), value: [mount(TMP, '/tmp')] },
      { target: 'debug', path: roOf('/spec/ephemeralContainers/0'), value: true },
      { target: 'debug', path: mountsOf('/spec/ephemeralContainers/0'), value: [mount(TMP, '/tmp')] },
    ],
  },
  {
    name: 'opted-out container: no read-only root, no mount, reported',
    pod: { spec: { containers: [{ name: 'app' }, { name: 'writer' }] } },
    optedOut: ['writer'],
    expectChanges: [
      { target: 'app', path: roOf('/spec/containers/0'), value: true },
      { target: 'pod', path: '/spec/volumes', value: [emptyDir(TMP)] },
      { target: 'app', path: mountsOf('/spec/containers/0'), value: [mount(TMP, '/tmp')] },
    ],
    expectSkips: [{ target: 'writer', reasonIncludes: 'opted out' }],
  },
  {
    // The pod spec is immutable on the ephemeral-containers subresource: no new volumes.
    name: 'ephemeral scope: reuses the existing volume, reports paths that have none',
    pod: {
      metadata: { annotations: { 'pod-hardener.io/writable-paths': '/var/run' } },
      spec: {
        volumes: [emptyDir(TMP)],
        containers: [
          {
            name: 'app',
            securityContext: { readOnlyRootFilesystem: true },
            volumeMounts: [mount(TMP, '/tmp')],
          },
        ],
        ephemeralContainers: [{ name: 'debug' }],
      },
    },
    podLevel: false,
    expectChanges: [
      { target: 'debug', path: roOf('/spec/ephemeralContainers/0'), value: true },
      { target: 'debug', path: mountsOf('/spec/ephemeralContainers/0'), value: [mount(TMP, '/tmp')] },
    ],
    expectSkips: [{ target: 'debug', reasonIncludes: 'no writable volume for /var/run' }],
  },
  {
    name: 'ephemeral scope with no volume at all: read-only root set, missing /tmp reported per container',
    pod: {
      spec: {
        containers: [{ name: 'app' }],
        ephemeralContainers: [{ name: 'd1' }, { name: 'd2' }],
      },
    },
    podLevel: false,
    expectChanges: [
      { target: 'd1', path: roOf('/spec/ephemeralContainers/0'), value: true },
      { target: 'd2', path: roOf('/spec/ephemeralContainers/1'), value: true },
    ],
    expectSkips: [
      { target: 'd1', reasonIncludes: 'no writable volume for /tmp' },
      { target: 'd2', reasonIncludes: 'no writable volume for /tmp' },
    ],
  },
  {
    name: 'ephemeral scope: a same-named volume that is not an emptyDir is never mounted',
    pod: {
      spec: {
        volumes: [{ name: TMP, configMap: { name: 'theirs' } }],
        containers: [{ name: 'app' }],
        ephemeralContainers: [{ name: 'debug' }],
      },
    },
    podLevel: false,
    expectChanges: [{ target: 'debug', path: roOf('/spec/ephemeralContainers/0'), value: true }],
    expectSkips: [{ target: 'debug', reasonIncludes: 'no writable volume for /tmp' }],
  },
  {
    name: 'Windows pod: skipped, readOnlyRootFilesystem is forbidden there',
    pod: { spec: { os: { name: 'windows' }, containers: [{ name: 'app' }] } },
    expectChanges: [],
    expectSkips: [{ target: 'app', reasonIncludes: 'Windows' }],
  },
];

describe('controls/read-only-root-filesystem', () => {
  describeControlTable(readOnlyRootFilesystem, rows);

  describe('volumeBaseName', () => {
    it('maps plain lowercase paths one to one', () => {
      expect(volumeBaseName('/tmp')).to.equal('pod-hardener-tmp');
      expect(volumeBaseName('/var/cache/nginx')).to.equal('pod-hardener-var-cache-nginx');
      expect(volumeBaseName('/var/run')).to.equal('pod-hardener-var-run');
    });

    const odd = ['/a_b', '/a-b', '/a.b', '/A', '/a', '/Var/Run', '/var/run', `/${'x'.repeat(200)}`];
    odd.push(`/${'x'.repeat(199)}y`);

    it('gives distinct names to odd paths, including long ones sharing a prefix', () => {
      const names = odd.map(volumeBaseName);
      expect(new Set(names).size, names.join(' ')).to.equal(odd.length);
    });

    it('gives valid DNS labels with room for a collision suffix', () => {
      for (const path of odd) {
        const withSuffix = `${volumeBaseName(path)}-12`;
        expect(withSuffix, path).to.match(DNS_LABEL);
        expect(withSuffix.length, path).to.be.at.most(63);
      }
    });

    it('is deterministic, so a reinvocation computes the same name', () => {
      for (const path of odd) expect(volumeBaseName(path)).to.equal(volumeBaseName(path));
    });

    // The spec promises "two different paths can never map to the same name". A hashed name is
    // itself a valid lossless slug, so the path spelling out that slug maps to the same name.
    it('never maps two different paths to the same name, even a path spelling out a hash', () => {
      const hashed = volumeBaseName('/a_b');
      const lookalike = `/${hashed.slice('pod-hardener-'.length).split('-').join('/')}`;
      expect(lookalike).to.not.equal('/a_b');
      expect(volumeBaseName(lookalike)).to.not.equal(hashed);
    });
  });

  // "One emptyDir per path": the collision suffix of one path must not be the base name of another,
  // or the reuse-an-emptyDir rule silently makes two paths share one directory.
  it('gives /tmp and /tmp/2 separate emptyDirs when /tmp had to move to a --2 name', () => {
    const pod: Pod = {
      metadata: { annotations: { 'pod-hardener.io/writable-paths': '/tmp/2' } },
      spec: { volumes: [{ name: TMP, configMap: { name: 'theirs' } }], containers: [{ name: 'app' }] },
    };
    const { draft } = applyControl(readOnlyRootFilesystem, pod);
    const mounts = draft.spec!.containers[0]!.volumeMounts ?? [];
    expect(mounts.map((m) => m.mountPath)).to.deep.equal(['/tmp', '/tmp/2']);
    expect(mounts[0]!.name, 'volume of /tmp vs /tmp/2').to.not.equal(mounts[1]!.name);
  });
});
