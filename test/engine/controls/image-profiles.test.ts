/**
 * Image profiles through each control that reads them: the per-container values, where they go (pod
 * or container), the profile named on every value it decided, and the defaults left out so the
 * container can start.
 */
import { expect } from 'chai';
import { defaultResources } from '../../../src/engine/controls/default-resources.js';
import { dropAllCapabilities } from '../../../src/engine/controls/drop-all-capabilities.js';
import { noPrivilegeEscalation } from '../../../src/engine/controls/no-privilege-escalation.js';
import { readOnlyRootFilesystem } from '../../../src/engine/controls/read-only-root-filesystem.js';
import { runAsNonRoot } from '../../../src/engine/controls/run-as-non-root.js';
import type { Control } from '../../../src/engine/controls/types.js';
import type { Pod } from '../../../src/engine/pod/model.js';
import type { ImageProfile } from '../../../src/engine/resolve/settings.js';
import { applyControl, runControlRow, type ControlRow } from '../../support/control-harness.js';

const NGINX: ImageProfile = {
  name: 'nginx',
  images: ['nginx:*'],
  runAsUser: 101,
  runAsGroup: 101,
  writablePaths: ['/var/cache/nginx', '/var/run'],
  keepCapabilities: ['NET_BIND_SERVICE'],
};
const ROOT: ImageProfile = { name: 'needs-root', images: ['legacy:*'], runAsRoot: true };
const BIG: ImageProfile = {
  name: 'big',
  images: ['big:*'],
  resources: { requests: { memory: '1Gi' }, limits: { cpu: '2' } },
};
const EXEMPT: ImageProfile = {
  name: 'exempt',
  images: ['exempt:*'],
  skipControls: ['read-only-root-filesystem', 'run-as-non-root'],
};
const policy = { imageProfiles: [NGINX, ROOT, BIG, EXEMPT] };

const pod = (...images: string[]): Pod => ({
  spec: { containers: images.map((image, i) => ({ name: `c${i}`, image })) },
});

const annotatedPod = (annotations: Record<string, string>, ...images: string[]): Pod => ({
  metadata: { annotations },
  spec: pod(...images).spec,
});

/** Runs the row through the harness (exact changes, skips, second pass empty), then checks profiles. */
function check(
  control: Control,
  row: Omit<ControlRow, 'policy'>,
  profiles: Record<string, string | undefined>,
): void {
  runControlRow(control, { ...row, policy });
  const { result } = applyControl(control, row.pod, { policy });
  expect(
    Object.fromEntries(result.changes.map((c) => [`${c.target} ${c.path}`, c.profile])),
    'profile named on each change',
  ).to.deep.equal(profiles);
}

describe('image profiles in the controls', () => {
  describe('run-as-non-root', () => {
    it('one profile for every container: its UID and GID on the pod, named', () => {
      check(
        runAsNonRoot,
        {
          name: '',
          pod: pod('nginx:1.27', 'nginx:1.26'),
          expectChanges: [
            { target: 'c0', path: '/spec/containers/0/securityContext/runAsNonRoot', value: true },
            { target: 'c1', path: '/spec/containers/1/securityContext/runAsNonRoot', value: true },
            { target: 'pod', path: '/spec/securityContext/runAsUser', value: 101 },
            { target: 'pod', path: '/spec/securityContext/runAsGroup', value: 101 },
            { target: 'pod', path: '/spec/securityContext/fsGroup', value: 65532 },
            { target: 'pod', path: '/spec/securityContext/fsGroupChangePolicy', value: 'OnRootMismatch' },
          ],
        },
        {
          'c0 /spec/containers/0/securityContext/runAsNonRoot': undefined,
          'c1 /spec/containers/1/securityContext/runAsNonRoot': undefined,
          'pod /spec/securityContext/runAsUser': 'nginx',
          'pod /spec/securityContext/runAsGroup': 'nginx',
          'pod /spec/securityContext/fsGroup': undefined,
          'pod /spec/securityContext/fsGroupChangePolicy': undefined,
        },
      );
    });

    it('containers whose users differ: UID and GID on each container', () => {
      const { result, draft } = applyControl(runAsNonRoot, pod('nginx:1', 'busybox'), { policy });
      expect(draft.spec?.securityContext).to.deep.equal({
        fsGroup: 65532,
        fsGroupChangePolicy: 'OnRootMismatch',
      });
      expect(draft.spec?.containers[0]?.securityContext).to.deep.equal({
        runAsNonRoot: true,
        runAsUser: 101,
        runAsGroup: 101,
      });
      expect(draft.spec?.containers[1]?.securityContext).to.deep.equal({
        runAsNonRoot: true,
        runAsUser: 65532,
        runAsGroup: 65532,
      });
      expect(result.changes.filter((c) => c.profile === 'nginx').map((c) => c.path)).to.deep.equal([
        '/spec/containers/0/securityContext/runAsUser',
        '/spec/containers/0/securityContext/runAsGroup',
      ]);
    });

    it('a profile that says the image must run as root: nothing for it, a warned skip, UID on the others', () => {
      runControlRow(runAsNonRoot, {
        name: '',
        policy,
        pod: pod('legacy:2', 'busybox'),
        expectChanges: [
          { target: 'c1', path: '/spec/containers/1/securityContext/runAsNonRoot', value: true },
          { target: 'c1', path: '/spec/containers/1/securityContext/runAsUser', value: 65532 },
          { target: 'c1', path: '/spec/containers/1/securityContext/runAsGroup', value: 65532 },
          { target: 'pod', path: '/spec/securityContext/fsGroup', value: 65532 },
          { target: 'pod', path: '/spec/securityContext/fsGroupChangePolicy', value: 'OnRootMismatch' },
        ],
        expectSkips: [
          { target: 'c0', reasonIncludes: 'image profile needs-root says the image must run as root' },
        ],
      });
      const { result } = applyControl(runAsNonRoot, pod('legacy:2'), { policy });
      expect(result.skipped).to.have.length(1);
      expect(result.skipped[0]).to.include({ profile: 'needs-root', keepsStartable: true });
    });

    it('a run-as-user annotation wins over the profile: its UID, the profile GID', () => {
      const annotated = annotatedPod({ 'pod-hardener.io/run-as-user': '1000' }, 'nginx:1', 'legacy:1');
      const { draft, result } = applyControl(runAsNonRoot, annotated, { policy });
      expect(result.skipped).to.deep.equal([]);
      expect(draft.spec?.containers[0]?.securityContext).to.deep.equal({
        runAsNonRoot: true,
        runAsUser: 1000,
        runAsGroup: 101,
      });
      // The annotation's UID replaces runAsRoot too.
      expect(draft.spec?.containers[1]?.securityContext).to.deep.equal({
        runAsNonRoot: true,
        runAsUser: 1000,
        runAsGroup: 65532,
      });
      const named = result.changes.filter((c) => c.profile !== undefined).map((c) => c.path);
      expect(named).to.deep.equal(['/spec/containers/0/securityContext/runAsGroup']);
    });

    it('a pod-level UID the author set is inherited; the profile does not override it', () => {
      const explicit: Pod = {
        spec: { securityContext: { runAsUser: 2000 }, containers: [{ name: 'c0', image: 'nginx:1' }] },
      };
      const { draft } = applyControl(runAsNonRoot, explicit, { policy });
      expect(draft.spec?.containers[0]?.securityContext).to.deep.equal({ runAsNonRoot: true });
      expect(draft.spec?.securityContext?.runAsUser).to.equal(2000);
    });
  });

  describe('skipControls', () => {
    it('a control the profile skips is a recorded skip, and no pod-level default reaches the container', () => {
      runControlRow(runAsNonRoot, {
        name: '',
        policy,
        pod: pod('exempt:1', 'busybox'),
        expectChanges: [
          { target: 'c1', path: '/spec/containers/1/securityContext/runAsNonRoot', value: true },
          { target: 'c1', path: '/spec/containers/1/securityContext/runAsUser', value: 65532 },
          { target: 'c1', path: '/spec/containers/1/securityContext/runAsGroup', value: 65532 },
        ],
        expectSkips: [{ target: 'c0', reasonIncludes: 'skipped by image profile exempt' }],
      });
      const { result } = applyControl(readOnlyRootFilesystem, pod('exempt:1'), { policy });
      expect(result.changes).to.deep.equal([]);
      expect(result.skipped).to.deep.equal([
        {
          control: 'read-only-root-filesystem',
          target: 'c0',
          reason: 'skipped by image profile exempt',
          profile: 'exempt',
        },
      ]);
    });
  });

  describe('drop-all-capabilities', () => {
    it('keepCapabilities go to add after the control dropped ALL, named', () => {
      check(
        dropAllCapabilities,
        {
          name: '',
          pod: pod('nginx:1'),
          expectChanges: [
            { target: 'c0', path: '/spec/containers/0/securityContext/capabilities/drop', value: ['ALL'] },
            {
              target: 'c0',
              path: '/spec/containers/0/securityContext/capabilities/add',
              value: ['NET_BIND_SERVICE'],
            },
          ],
        },
        {
          'c0 /spec/containers/0/securityContext/capabilities/drop': undefined,
          'c0 /spec/containers/0/securityContext/capabilities/add': 'nginx',
        },
      );
    });

    it('an add the container set is kept as it is, and reported', () => {
      runControlRow(dropAllCapabilities, {
        name: '',
        policy,
        pod: {
          spec: {
            containers: [
              { name: 'c0', image: 'nginx:1', securityContext: { capabilities: { add: ['CHOWN'] } } },
            ],
          },
        },
        expectChanges: [
          { target: 'c0', path: '/spec/containers/0/securityContext/capabilities/drop', value: ['ALL'] },
        ],
        expectSkips: [{ target: 'c0', reasonIncludes: 'keepCapabilities of image profile nginx not added' }],
      });
    });

    it('a drop the container set: nothing added', () => {
      runControlRow(dropAllCapabilities, {
        name: '',
        policy,
        pod: {
          spec: {
            containers: [
              { name: 'c0', image: 'nginx:1', securityContext: { capabilities: { drop: ['ALL'] } } },
            ],
          },
        },
        expectChanges: [],
      });
    });

    it('a kept SYS_ADMIN keeps no-privilege-escalation off, as an explicit one does', () => {
      const sysAdmin: ImageProfile = { name: 'admin', images: ['admin'], keepCapabilities: ['SYS_ADMIN'] };
      const { draft } = applyControl(dropAllCapabilities, pod('admin'), {
        policy: { imageProfiles: [sysAdmin] },
      });
      const { result } = applyControl(noPrivilegeEscalation, draft, {
        policy: { imageProfiles: [sysAdmin] },
      });
      expect(result.changes).to.deep.equal([]);
    });
  });

  describe('read-only-root-filesystem', () => {
    it("the profile's writable paths after the pod's, in that container only, named", () => {
      check(
        readOnlyRootFilesystem,
        {
          name: '',
          pod: pod('nginx:1', 'busybox'),
          expectChanges: [
            { target: 'c0', path: '/spec/containers/0/securityContext/readOnlyRootFilesystem', value: true },
            {
              target: 'pod',
              path: '/spec/volumes',
              value: [{ name: 'pod-hardener-tmp', emptyDir: { sizeLimit: '256Mi' } }],
            },
            {
              target: 'c0',
              path: '/spec/containers/0/volumeMounts',
              value: [{ name: 'pod-hardener-tmp', mountPath: '/tmp' }],
            },
            {
              target: 'pod',
              path: '/spec/volumes/1',
              value: { name: 'pod-hardener-var-cache-nginx', emptyDir: { sizeLimit: '256Mi' } },
            },
            {
              target: 'c0',
              path: '/spec/containers/0/volumeMounts/1',
              value: { name: 'pod-hardener-var-cache-nginx', mountPath: '/var/cache/nginx' },
            },
            {
              target: 'pod',
              path: '/spec/volumes/2',
              value: { name: 'pod-hardener-var-run', emptyDir: { sizeLimit: '256Mi' } },
            },
            {
              target: 'c0',
              path: '/spec/containers/0/volumeMounts/2',
              value: { name: 'pod-hardener-var-run', mountPath: '/var/run' },
            },
            { target: 'c1', path: '/spec/containers/1/securityContext/readOnlyRootFilesystem', value: true },
            {
              target: 'c1',
              path: '/spec/containers/1/volumeMounts',
              value: [{ name: 'pod-hardener-tmp', mountPath: '/tmp' }],
            },
          ],
        },
        {
          'c0 /spec/containers/0/securityContext/readOnlyRootFilesystem': undefined,
          'pod /spec/volumes': undefined,
          'c0 /spec/containers/0/volumeMounts': undefined,
          'pod /spec/volumes/1': 'nginx',
          'c0 /spec/containers/0/volumeMounts/1': 'nginx',
          'pod /spec/volumes/2': 'nginx',
          'c0 /spec/containers/0/volumeMounts/2': 'nginx',
          'c1 /spec/containers/1/securityContext/readOnlyRootFilesystem': undefined,
          'c1 /spec/containers/1/volumeMounts': undefined,
        },
      );
    });

    it('a path both the annotation and the profile name is the annotation’s', () => {
      const annotated = annotatedPod({ 'pod-hardener.io/writable-paths': '/var/run' }, 'nginx:1');
      const { draft, result } = applyControl(readOnlyRootFilesystem, annotated, { policy });
      expect(draft.spec?.containers[0]?.volumeMounts?.map((m) => m.mountPath)).to.deep.equal([
        '/tmp',
        '/var/run',
        '/var/cache/nginx',
      ]);
      expect(result.changes.filter((c) => c.profile === 'nginx').map((c) => c.path)).to.deep.equal([
        '/spec/volumes/2',
        '/spec/containers/0/volumeMounts/2',
      ]);
    });
  });

  describe('default-resources', () => {
    it('a default below what the profile declares is left out, with a warned skip naming the profile', () => {
      runControlRow(defaultResources, {
        name: '',
        policy,
        pod: pod('big:1'),
        expectChanges: [
          // cpu: the default limit 500m is below the declared 2; the request 100m is fine.
          { target: 'c0', path: '/spec/containers/0/resources/requests/cpu', value: '100m' },
        ],
        expectSkips: [
          {
            target: 'c0',
            reasonIncludes: 'default cpu limit 500m is below the 2 image profile big declares',
          },
          { target: 'c0', reasonIncludes: 'default memory limit 512Mi is below the 1Gi image profile big' },
          { target: 'c0', reasonIncludes: 'default memory request 128Mi is below the 1Gi image profile big' },
        ],
      });
      const { result } = applyControl(defaultResources, pod('big:1'), { policy });
      for (const skip of result.skipped) expect(skip).to.include({ profile: 'big', keepsStartable: true });
    });

    it('a default at or above the declared minimum applies', () => {
      runControlRow(defaultResources, {
        name: '',
        policy: {
          imageProfiles: [{ name: 'small', images: ['small'], resources: { limits: { memory: '512Mi' } } }],
        },
        pod: pod('small'),
        expectChanges: [
          { target: 'c0', path: '/spec/containers/0/resources/limits/cpu', value: '500m' },
          { target: 'c0', path: '/spec/containers/0/resources/requests/cpu', value: '100m' },
          { target: 'c0', path: '/spec/containers/0/resources/limits/memory', value: '512Mi' },
          { target: 'c0', path: '/spec/containers/0/resources/requests/memory', value: '128Mi' },
        ],
      });
    });
  });
});
