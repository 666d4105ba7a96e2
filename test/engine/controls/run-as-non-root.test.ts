import { runAsNonRoot } from '../../../src/engine/controls/run-as-non-root.js';
import { describeControlTable, type ControlRow } from '../../support/control-harness.js';

const POD_SC = '/spec/securityContext';
const UID = 65532;

/**
 * The full fill for a one-container pod `app` where nothing at pod level was set: runAsNonRoot on the
 * container (never the pod, so a root container injected later inherits none), the rest on the pod.
 */
const podWideFill = [
  { target: 'app', path: '/spec/containers/0/securityContext/runAsNonRoot', value: true },
  { target: 'pod', path: `${POD_SC}/runAsUser`, value: UID },
  { target: 'pod', path: `${POD_SC}/runAsGroup`, value: UID },
  { target: 'pod', path: `${POD_SC}/fsGroup`, value: UID },
  { target: 'pod', path: `${POD_SC}/fsGroupChangePolicy`, value: 'OnRootMismatch' },
];

const fsGroupFill = podWideFill.slice(3);

function perContainer(
  target: string,
  pointer: string,
  fields: ('runAsNonRoot' | 'runAsUser' | 'runAsGroup')[],
) {
  const values = { runAsNonRoot: true, runAsUser: UID, runAsGroup: UID };
  return fields.map((field) => ({
    target,
    path: `${pointer}/securityContext/${field}`,
    value: values[field],
  }));
}

const containerUserOnPod = {
  target: 'pod',
  path: `${POD_SC}/windowsOptions/runAsUserName`,
  value: 'ContainerUser',
};
const osNameFill = { target: 'pod', path: '/spec/os/name', value: 'windows' };

/** A Windows container's own non-root fill: runAsNonRoot and the ContainerUser user. */
function windowsPerContainer(target: string, pointer: string) {
  return [
    { target, path: `${pointer}/securityContext/runAsNonRoot`, value: true },
    { target, path: `${pointer}/securityContext/windowsOptions/runAsUserName`, value: 'ContainerUser' },
  ];
}

const rows: ControlRow[] = [
  {
    name: 'plain pod: runAsNonRoot on the container, the rest at pod level',
    pod: { spec: { containers: [{ name: 'app' }] } },
    expectChanges: podWideFill,
  },
  {
    name: 'pod with an empty securityContext: same fill',
    pod: { spec: { securityContext: {}, containers: [{ name: 'app' }] } },
    expectChanges: podWideFill,
  },
  {
    name: 'every pod-level field already set: nothing overwritten',
    pod: {
      spec: {
        securityContext: {
          runAsNonRoot: true,
          runAsUser: 1000,
          runAsGroup: 2000,
          fsGroup: 3000,
          fsGroupChangePolicy: 'Always',
        },
        containers: [{ name: 'app' }],
      },
    },
    expectChanges: [],
  },
  {
    name: 'pod-level runAsUser set: only the other fields are filled',
    pod: { spec: { securityContext: { runAsUser: 1000 }, containers: [{ name: 'app' }] } },
    expectChanges: [podWideFill[0]!, ...podWideFill.slice(2)],
    expectDraftSubset: { spec: { securityContext: { runAsUser: 1000 } } },
  },
  {
    name: 'pod-level runAsGroup, fsGroup and fsGroupChangePolicy set: only runAsNonRoot and runAsUser',
    pod: {
      spec: {
        securityContext: { runAsGroup: 0, fsGroup: 5, fsGroupChangePolicy: 'Always' },
        containers: [{ name: 'app' }],
      },
    },
    expectChanges: podWideFill.slice(0, 2),
  },
  {
    name: 'container already non-root on its own: pod level still filled, container untouched',
    pod: {
      spec: { containers: [{ name: 'app', securityContext: { runAsNonRoot: true, runAsUser: 1000 } }] },
    },
    expectChanges: podWideFill.slice(1),
    expectDraftSubset: {
      spec: { containers: [{ name: 'app', securityContext: { runAsNonRoot: true, runAsUser: 1000 } }] },
    },
  },
  {
    name: 'init containers and sidecars count like containers',
    pod: {
      spec: {
        initContainers: [{ name: 'init' }, { name: 'proxy', restartPolicy: 'Always' }],
        containers: [{ name: 'app' }],
      },
    },
    expectChanges: [
      ...perContainer('init', '/spec/initContainers/0', ['runAsNonRoot']),
      ...perContainer('proxy', '/spec/initContainers/1', ['runAsNonRoot']),
      ...podWideFill,
    ],
  },
  {
    // The kubelet refuses a root container under pod-level runAsNonRoot (gatekeeper-library#62).
    name: 'explicit runAsUser: 0 container: per-container values on the others, root one left and reported',
    pod: {
      spec: {
        initContainers: [{ name: 'init' }],
        containers: [{ name: 'root', securityContext: { runAsUser: 0 } }, { name: 'app' }],
      },
    },
    expectChanges: [
      ...perContainer('init', '/spec/initContainers/0', ['runAsNonRoot', 'runAsUser', 'runAsGroup']),
      ...perContainer('app', '/spec/containers/1', ['runAsNonRoot', 'runAsUser', 'runAsGroup']),
      ...fsGroupFill,
    ],
    expectSkips: [{ target: 'root', reasonIncludes: 'runAsUser: 0' }],
    expectDraftSubset: { spec: { containers: [{ name: 'root', securityContext: { runAsUser: 0 } }, {}] } },
  },
  {
    name: 'explicit runAsNonRoot: false container: per-container values on the others',
    pod: {
      spec: {
        containers: [{ name: 'app' }, { name: 'legacy', securityContext: { runAsNonRoot: false } }],
      },
    },
    expectChanges: [
      ...perContainer('app', '/spec/containers/0', ['runAsNonRoot', 'runAsUser', 'runAsGroup']),
      ...fsGroupFill,
    ],
    expectSkips: [{ target: 'legacy', reasonIncludes: 'runAsNonRoot: false' }],
  },
  {
    name: 'pod-level runAsUser: 0: every inheriting container runs as root, nothing to set on them',
    pod: {
      spec: { securityContext: { runAsUser: 0 }, containers: [{ name: 'a' }, { name: 'b' }] },
    },
    expectChanges: fsGroupFill,
    expectSkips: [
      { target: 'a', reasonIncludes: 'runAsUser: 0' },
      { target: 'b', reasonIncludes: 'runAsUser: 0' },
    ],
  },
  {
    name: 'pod-level runAsUser: 0 with a container choosing its own UID: that one is still hardened',
    pod: {
      spec: {
        securityContext: { runAsUser: 0 },
        containers: [{ name: 'a' }, { name: 'b', securityContext: { runAsUser: 1000 } }],
      },
    },
    expectChanges: [
      ...perContainer('b', '/spec/containers/1', ['runAsNonRoot', 'runAsGroup']),
      ...fsGroupFill,
    ],
    expectSkips: [{ target: 'a', reasonIncludes: 'runAsUser: 0' }],
  },
  {
    name: 'pod-level runAsNonRoot: false: every inheriting container allows root',
    pod: { spec: { securityContext: { runAsNonRoot: false }, containers: [{ name: 'a' }] } },
    expectChanges: fsGroupFill,
    expectSkips: [{ target: 'a', reasonIncludes: 'runAsNonRoot: false' }],
  },
  {
    name: 'opted-out container: per-container on the others, no fsGroup because it would reach the opted-out one',
    pod: { spec: { containers: [{ name: 'app' }, { name: 'sidecar' }] } },
    optedOut: ['sidecar'],
    expectChanges: perContainer('app', '/spec/containers/0', ['runAsNonRoot', 'runAsUser', 'runAsGroup']),
    expectSkips: [{ target: 'sidecar', reasonIncludes: 'opted out' }],
  },
  {
    name: 'opted out through the skip-controls annotation',
    pod: {
      metadata: { annotations: { 'pod-hardener.io/skip-controls': 'sidecar/run-as-non-root' } },
      spec: { containers: [{ name: 'app' }, { name: 'sidecar' }] },
    },
    expectChanges: perContainer('app', '/spec/containers/0', ['runAsNonRoot', 'runAsUser', 'runAsGroup']),
    expectSkips: [{ target: 'sidecar', reasonIncludes: 'opted out' }],
  },
  {
    name: 'opted-out container with pod-level values present: the others inherit those, only gaps filled',
    pod: {
      spec: { securityContext: { runAsUser: 1000 }, containers: [{ name: 'app' }, { name: 'sidecar' }] },
    },
    optedOut: ['sidecar'],
    expectChanges: perContainer('app', '/spec/containers/0', ['runAsNonRoot', 'runAsGroup']),
    expectSkips: [{ target: 'sidecar', reasonIncludes: 'opted out' }],
  },
  {
    name: 'ephemeral scope: the new debug container gets its own values, pod level untouched',
    pod: { spec: { containers: [{ name: 'app' }], ephemeralContainers: [{ name: 'debug' }] } },
    podLevel: false,
    expectChanges: perContainer('debug', '/spec/ephemeralContainers/0', [
      'runAsNonRoot',
      'runAsUser',
      'runAsGroup',
    ]),
  },
  {
    name: 'ephemeral scope in an already hardened pod: inherits, nothing to set',
    pod: {
      spec: {
        securityContext: { runAsNonRoot: true, runAsUser: UID, runAsGroup: UID },
        containers: [{ name: 'app' }],
        ephemeralContainers: [{ name: 'debug' }],
      },
    },
    podLevel: false,
    expectChanges: [],
  },
  {
    name: 'ephemeral scope: a root debug container is left and reported',
    pod: {
      spec: {
        containers: [{ name: 'app' }],
        ephemeralContainers: [{ name: 'debug', securityContext: { runAsUser: 0 } }],
      },
    },
    podLevel: false,
    expectChanges: [],
    expectSkips: [{ target: 'debug', reasonIncludes: 'runAsUser: 0' }],
  },
  {
    name: 'Windows pod: runAsNonRoot on the container, ContainerUser on the pod, no UID fields',
    pod: { spec: { os: { name: 'windows' }, containers: [{ name: 'app' }] } },
    expectChanges: [podWideFill[0]!, containerUserOnPod],
  },
  {
    name: 'Windows ContainerAdministrator container: the others get runAsNonRoot and ContainerUser each',
    pod: {
      spec: {
        os: { name: 'windows' },
        containers: [
          { name: 'admin', securityContext: { windowsOptions: { runAsUserName: 'ContainerAdministrator' } } },
          { name: 'app' },
        ],
      },
    },
    expectChanges: windowsPerContainer('app', '/spec/containers/1'),
    expectSkips: [{ target: 'admin', reasonIncludes: 'ContainerAdministrator' }],
  },
  {
    name: 'Windows pod-level ContainerAdministrator: every container inherits it',
    pod: {
      spec: {
        os: { name: 'windows' },
        securityContext: { windowsOptions: { runAsUserName: 'ContainerAdministrator' } },
        containers: [{ name: 'app' }],
      },
    },
    expectChanges: [],
    expectSkips: [{ target: 'app', reasonIncludes: 'ContainerAdministrator' }],
  },
  {
    name: 'Windows pod-level user of its own: kept, inherited, only runAsNonRoot added',
    pod: {
      spec: {
        os: { name: 'windows' },
        securityContext: { windowsOptions: { runAsUserName: 'app-user' } },
        containers: [{ name: 'app' }],
      },
    },
    expectChanges: [podWideFill[0]!],
    expectDraftSubset: { spec: { securityContext: { windowsOptions: { runAsUserName: 'app-user' } } } },
  },
  {
    name: 'Windows container naming its own user: kept; the pod level still gets ContainerUser',
    pod: {
      spec: {
        os: { name: 'windows' },
        containers: [
          { name: 'app', securityContext: { runAsNonRoot: true, windowsOptions: { runAsUserName: 'svc' } } },
        ],
      },
    },
    expectChanges: [containerUserOnPod],
    expectDraftSubset: {
      spec: { containers: [{ securityContext: { windowsOptions: { runAsUserName: 'svc' } } }] },
    },
  },
  {
    name: 'Windows opted-out container: ContainerUser on each other container, not on the pod',
    pod: { spec: { os: { name: 'windows' }, containers: [{ name: 'app' }, { name: 'sidecar' }] } },
    optedOut: ['sidecar'],
    expectChanges: windowsPerContainer('app', '/spec/containers/0'),
    expectSkips: [{ target: 'sidecar', reasonIncludes: 'opted out' }],
  },
  {
    name: 'Windows ephemeral scope: runAsNonRoot and ContainerUser on the new container',
    pod: {
      spec: { os: { name: 'windows' }, containers: [{ name: 'app' }], ephemeralContainers: [{ name: 'd' }] },
    },
    podLevel: false,
    expectChanges: windowsPerContainer('d', '/spec/ephemeralContainers/0'),
  },
  {
    name: 'Windows hostProcess pod: runAsNonRoot only, ContainerUser is no host account',
    pod: {
      spec: {
        os: { name: 'windows' },
        hostNetwork: true,
        securityContext: { windowsOptions: { hostProcess: true } },
        containers: [{ name: 'agent' }],
      },
    },
    expectChanges: perContainer('agent', '/spec/containers/0', ['runAsNonRoot']),
    expectSkips: [{ target: 'pod', reasonIncludes: 'hostProcess' }],
  },
  {
    name: 'Windows by nodeSelector kubernetes.io/os: the Windows fill, and spec.os.name windows',
    pod: { spec: { nodeSelector: { 'kubernetes.io/os': 'windows' }, containers: [{ name: 'app' }] } },
    expectChanges: [podWideFill[0]!, containerUserOnPod, osNameFill],
  },
  {
    name: 'Windows by the legacy beta.kubernetes.io/os nodeSelector: same',
    pod: { spec: { nodeSelector: { 'beta.kubernetes.io/os': 'windows' }, containers: [{ name: 'app' }] } },
    expectChanges: [podWideFill[0]!, containerUserOnPod, osNameFill],
  },
  {
    name: 'Windows by required node affinity in every term: same',
    pod: {
      spec: {
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                { matchExpressions: [{ key: 'kubernetes.io/os', operator: 'In', values: ['windows'] }] },
                {
                  matchExpressions: [
                    { key: 'beta.kubernetes.io/os', operator: 'In', values: ['windows'] },
                    { key: 'zone', operator: 'In', values: ['a'] },
                  ],
                },
              ],
            },
          },
        },
        containers: [{ name: 'app' }],
      },
    },
    expectChanges: [podWideFill[0]!, containerUserOnPod, osNameFill],
  },
  {
    name: 'affinity where one term allows any OS: Linux',
    pod: {
      spec: {
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                { matchExpressions: [{ key: 'kubernetes.io/os', operator: 'In', values: ['windows'] }] },
                { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] },
              ],
            },
          },
        },
        containers: [{ name: 'app' }],
      },
    },
    expectChanges: podWideFill,
  },
  {
    name: 'spec.os.name linux wins over a Windows nodeSelector: Linux',
    pod: {
      spec: {
        os: { name: 'linux' },
        nodeSelector: { 'kubernetes.io/os': 'windows' },
        containers: [{ name: 'app' }],
      },
    },
    expectChanges: podWideFill,
  },
  {
    name: 'a Linux nodeSelector: Linux',
    pod: { spec: { nodeSelector: { 'kubernetes.io/os': 'linux' }, containers: [{ name: 'app' }] } },
    expectChanges: podWideFill,
  },
  {
    name: 'Windows by nodeSelector with a Linux-only field set: spec.os.name left unset, reported',
    pod: {
      spec: {
        nodeSelector: { 'kubernetes.io/os': 'windows' },
        securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
        containers: [{ name: 'app', securityContext: { capabilities: { drop: ['ALL'] } } }],
      },
    },
    expectChanges: [podWideFill[0]!, containerUserOnPod],
    expectSkips: [
      {
        target: 'pod',
        reasonIncludes:
          'spec.os.name left unset: the API forbids on Windows /spec/securityContext/seccompProfile, /spec/containers/0/securityContext/capabilities',
      },
    ],
  },
  {
    name: 'Windows by nodeSelector with pod-level resources: spec.os.name left unset (forbidden on Windows)',
    pod: {
      spec: {
        nodeSelector: { 'kubernetes.io/os': 'windows' },
        resources: { limits: { cpu: '1' } },
        containers: [{ name: 'app' }],
      },
    },
    expectChanges: [podWideFill[0]!, containerUserOnPod],
    expectSkips: [{ target: 'pod', reasonIncludes: '/spec/resources' }],
  },
  {
    name: 'Windows by nodeSelector with an opted-out container: spec.os.name still filled',
    pod: {
      spec: { nodeSelector: { 'kubernetes.io/os': 'windows' }, containers: [{ name: 'app' }, { name: 'b' }] },
    },
    optedOut: ['b'],
    expectChanges: [...windowsPerContainer('app', '/spec/containers/0'), osNameFill],
    expectSkips: [{ target: 'b', reasonIncludes: 'opted out' }],
  },
  {
    name: 'Windows by nodeSelector with its only container opted out: spec.os.name still filled, nothing else',
    pod: { spec: { nodeSelector: { 'kubernetes.io/os': 'windows' }, containers: [{ name: 'app' }] } },
    optedOut: ['app'],
    expectChanges: [osNameFill],
    expectSkips: [{ target: 'app', reasonIncludes: 'opted out' }],
  },
  {
    name: 'Windows by nodeSelector, ephemeral scope: the pod level is out of reach, no spec.os.name',
    pod: {
      spec: {
        nodeSelector: { 'kubernetes.io/os': 'windows' },
        containers: [{ name: 'app' }],
        ephemeralContainers: [{ name: 'd' }],
      },
    },
    podLevel: false,
    expectChanges: windowsPerContainer('d', '/spec/ephemeralContainers/0'),
  },
  {
    name: 'custom UID from the run-as-user annotation; group and fsGroup stay configured',
    pod: {
      metadata: { annotations: { 'pod-hardener.io/run-as-user': '1000' } },
      spec: { containers: [{ name: 'app' }] },
    },
    expectChanges: [
      podWideFill[0]!,
      { target: 'pod', path: `${POD_SC}/runAsUser`, value: 1000 },
      ...podWideFill.slice(2),
    ],
  },
  {
    name: 'custom UID, GID and fsGroup from settings',
    pod: { spec: { containers: [{ name: 'app' }] } },
    policy: { runAsUser: 2000, runAsGroup: 3000, fsGroup: 4000 },
    expectChanges: [
      podWideFill[0]!,
      { target: 'pod', path: `${POD_SC}/runAsUser`, value: 2000 },
      { target: 'pod', path: `${POD_SC}/runAsGroup`, value: 3000 },
      { target: 'pod', path: `${POD_SC}/fsGroup`, value: 4000 },
      podWideFill[4]!,
    ],
  },
  {
    name: 'invalid run-as-user annotation (0) falls back to the configured UID, never root',
    pod: {
      metadata: { annotations: { 'pod-hardener.io/run-as-user': '0' } },
      spec: { containers: [{ name: 'app' }] },
    },
    expectChanges: podWideFill,
  },
];

describe('controls/run-as-non-root', () => {
  describeControlTable(runAsNonRoot, rows);
});
