import { seccompRuntimeDefault } from '../../../src/engine/controls/seccomp-runtime-default.js';
import { describeControlTable, type ControlRow } from '../../support/control-harness.js';

const RUNTIME_DEFAULT = { type: 'RuntimeDefault' };
const POD_PROFILE = '/spec/securityContext/seccompProfile';
const profileOf = (pointer: string): string => `${pointer}/securityContext/seccompProfile`;
const localhost = { type: 'Localhost', localhostProfile: 'profiles/app.json' };

const rows: ControlRow[] = [
  {
    name: 'plain pod: RuntimeDefault at pod level',
    pod: { spec: { containers: [{ name: 'app' }] } },
    expectChanges: [{ target: 'pod', path: POD_PROFILE, value: RUNTIME_DEFAULT }],
  },
  {
    name: 'pod already has a Localhost profile: kept',
    pod: { spec: { securityContext: { seccompProfile: localhost }, containers: [{ name: 'app' }] } },
    expectChanges: [],
  },
  {
    // Pod Security reports Unconfined; an explicit choice is not ours to overwrite.
    name: 'pod explicitly Unconfined: kept',
    pod: {
      spec: { securityContext: { seccompProfile: { type: 'Unconfined' } }, containers: [{ name: 'app' }] },
    },
    expectChanges: [],
  },
  {
    name: 'container with its own Localhost profile keeps it; the pod level is still filled',
    pod: {
      spec: {
        containers: [{ name: 'app', securityContext: { seccompProfile: localhost } }, { name: 'b' }],
      },
    },
    expectChanges: [{ target: 'pod', path: POD_PROFILE, value: RUNTIME_DEFAULT }],
    expectDraftSubset: { spec: { containers: [{ securityContext: { seccompProfile: localhost } }, {}] } },
  },
  {
    name: 'container explicitly Unconfined keeps it',
    pod: {
      spec: { containers: [{ name: 'app', securityContext: { seccompProfile: { type: 'Unconfined' } } }] },
    },
    expectChanges: [{ target: 'pod', path: POD_PROFILE, value: RUNTIME_DEFAULT }],
    expectDraftSubset: {
      spec: { containers: [{ securityContext: { seccompProfile: { type: 'Unconfined' } } }] },
    },
  },
  {
    // The API server keeps field and legacy annotation in sync and rejects a disagreement.
    name: 'legacy pod annotation: untouched',
    pod: {
      metadata: { annotations: { 'seccomp.security.alpha.kubernetes.io/pod': 'runtime/default' } },
      spec: { containers: [{ name: 'app' }] },
    },
    expectChanges: [],
  },
  {
    name: 'legacy pod annotation with an opted-out container: still untouched, no per-container fill',
    pod: {
      metadata: { annotations: { 'seccomp.security.alpha.kubernetes.io/pod': 'unconfined' } },
      spec: { containers: [{ name: 'app' }, { name: 'b' }] },
    },
    optedOut: ['b'],
    expectChanges: [],
    expectSkips: [{ target: 'b', reasonIncludes: 'opted out' }],
  },
  {
    // Validation only compares a container annotation with that container's own field.
    name: 'legacy container annotation alone: the pod level is still filled',
    pod: {
      metadata: { annotations: { 'container.seccomp.security.alpha.kubernetes.io/app': 'localhost/x' } },
      spec: { containers: [{ name: 'app' }] },
    },
    expectChanges: [{ target: 'pod', path: POD_PROFILE, value: RUNTIME_DEFAULT }],
  },
  {
    name: 'opted-out container: the profile goes on each other container instead',
    pod: {
      spec: {
        initContainers: [{ name: 'init' }],
        containers: [{ name: 'app' }, { name: 'strace' }],
      },
    },
    optedOut: ['strace'],
    expectChanges: [
      { target: 'init', path: profileOf('/spec/initContainers/0'), value: RUNTIME_DEFAULT },
      { target: 'app', path: profileOf('/spec/containers/0'), value: RUNTIME_DEFAULT },
    ],
    expectSkips: [{ target: 'strace', reasonIncludes: 'opted out' }],
  },
  {
    name: 'opted out through the skip-controls annotation',
    pod: {
      metadata: { annotations: { 'pod-hardener.io/skip-controls': 'strace/seccomp-runtime-default' } },
      spec: { containers: [{ name: 'app' }, { name: 'strace' }] },
    },
    expectChanges: [{ target: 'app', path: profileOf('/spec/containers/0'), value: RUNTIME_DEFAULT }],
    expectSkips: [{ target: 'strace', reasonIncludes: 'opted out' }],
  },
  {
    name: 'per-container mode: a container with its own profile or a legacy container annotation keeps it',
    pod: {
      metadata: { annotations: { 'container.seccomp.security.alpha.kubernetes.io/legacy': 'localhost/x' } },
      spec: {
        containers: [
          { name: 'own', securityContext: { seccompProfile: localhost } },
          { name: 'legacy' },
          { name: 'app' },
          { name: 'out' },
        ],
      },
    },
    optedOut: ['out'],
    expectChanges: [{ target: 'app', path: profileOf('/spec/containers/2'), value: RUNTIME_DEFAULT }],
    expectSkips: [{ target: 'out', reasonIncludes: 'opted out' }],
  },
  {
    name: 'ephemeral scope: per container, the pod level is out of reach',
    pod: { spec: { containers: [{ name: 'app' }], ephemeralContainers: [{ name: 'debug' }] } },
    podLevel: false,
    expectChanges: [
      { target: 'debug', path: profileOf('/spec/ephemeralContainers/0'), value: RUNTIME_DEFAULT },
    ],
  },
  {
    name: 'ephemeral scope in a pod that already has a pod-level profile: inherited, nothing set',
    pod: {
      spec: {
        securityContext: { seccompProfile: RUNTIME_DEFAULT },
        containers: [{ name: 'app' }],
        ephemeralContainers: [{ name: 'debug' }],
      },
    },
    podLevel: false,
    expectChanges: [],
  },
  {
    name: 'Windows pod: skipped, seccompProfile is forbidden there',
    pod: { spec: { os: { name: 'windows' }, containers: [{ name: 'app' }] } },
    expectChanges: [],
    expectSkips: [{ target: 'app', reasonIncludes: 'Windows' }],
  },
];

describe('controls/seccomp-runtime-default', () => {
  describeControlTable(seccompRuntimeDefault, rows);
});
