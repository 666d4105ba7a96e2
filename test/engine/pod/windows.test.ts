import { expect } from 'chai';
import { isWindowsPod, type Pod } from '../../../src/engine/pod/model.js';
import { linuxOnlyFields } from '../../../src/engine/pod/windows.js';

type Spec = Partial<NonNullable<Pod['spec']>>;

function podWith(spec: Spec): Pod {
  return { spec: { containers: [{ name: 'app' }], ...spec } };
}

function requiredAffinity(...terms: { key: string; operator: string; values?: string[] }[][]): Spec {
  return {
    affinity: {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: terms.map((matchExpressions) => ({ matchExpressions })),
        },
      },
    },
  };
}

const OS_IN_WINDOWS = { key: 'kubernetes.io/os', operator: 'In', values: ['windows'] };

describe('engine/pod isWindowsPod: every signal', () => {
  const rows: { name: string; spec: Spec; windows: boolean }[] = [
    { name: 'no signal: Linux', spec: {}, windows: false },
    { name: 'spec.os.name windows', spec: { os: { name: 'windows' } }, windows: true },
    { name: 'spec.os.name linux', spec: { os: { name: 'linux' } }, windows: false },
    {
      name: 'nodeSelector kubernetes.io/os: windows',
      spec: { nodeSelector: { 'kubernetes.io/os': 'windows' } },
      windows: true,
    },
    {
      name: 'nodeSelector beta.kubernetes.io/os: windows',
      spec: { nodeSelector: { 'beta.kubernetes.io/os': 'windows' } },
      windows: true,
    },
    {
      name: 'nodeSelector kubernetes.io/os: linux',
      spec: { nodeSelector: { 'kubernetes.io/os': 'linux' } },
      windows: false,
    },
    {
      name: 'a nodeSelector without an OS label',
      spec: { nodeSelector: { 'node.kubernetes.io/instance-type': 'm5.large' } },
      windows: false,
    },
    {
      name: 'spec.os.name linux wins over a Windows nodeSelector',
      spec: { os: { name: 'linux' }, nodeSelector: { 'kubernetes.io/os': 'windows' } },
      windows: false,
    },
    {
      name: 'a Linux nodeSelector wins over a Windows affinity',
      spec: { nodeSelector: { 'kubernetes.io/os': 'linux' }, ...requiredAffinity([OS_IN_WINDOWS]) },
      windows: false,
    },
    {
      name: 'required affinity, one term In [windows]',
      spec: requiredAffinity([OS_IN_WINDOWS]),
      windows: true,
    },
    {
      name: 'required affinity, every term requires an OS label In [windows]',
      spec: requiredAffinity(
        [OS_IN_WINDOWS, { key: 'zone', operator: 'In', values: ['a'] }],
        [{ key: 'beta.kubernetes.io/os', operator: 'In', values: ['windows'] }],
      ),
      windows: true,
    },
    {
      name: 'required affinity, one term without the OS label: Linux nodes match it',
      spec: requiredAffinity([OS_IN_WINDOWS], [{ key: 'zone', operator: 'In', values: ['a'] }]),
      windows: false,
    },
    {
      name: 'required affinity In [windows, linux]: either OS',
      spec: requiredAffinity([{ key: 'kubernetes.io/os', operator: 'In', values: ['windows', 'linux'] }]),
      windows: false,
    },
    {
      name: 'required affinity NotIn [linux]: not a requirement of windows',
      spec: requiredAffinity([{ key: 'kubernetes.io/os', operator: 'NotIn', values: ['linux'] }]),
      windows: false,
    },
    {
      name: 'preferred affinity only: Linux',
      spec: {
        affinity: {
          nodeAffinity: {
            preferredDuringSchedulingIgnoredDuringExecution: [
              { weight: 1, preference: { matchExpressions: [OS_IN_WINDOWS] } },
            ],
          },
        },
      },
      windows: false,
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      expect(isWindowsPod(podWith(row.spec))).to.equal(row.windows);
    });
  }
});

describe('engine/pod linuxOnlyFields', () => {
  it('finds nothing on a plain pod or one with only Windows-valid fields', () => {
    expect(linuxOnlyFields(podWith({}))).to.deep.equal([]);
    expect(
      linuxOnlyFields(
        podWith({
          hostPID: false,
          hostIPC: false,
          securityContext: {
            runAsNonRoot: true,
            windowsOptions: { runAsUserName: 'ContainerUser' },
            sysctls: [],
          },
          containers: [
            {
              name: 'app',
              securityContext: { runAsNonRoot: true, windowsOptions: { runAsUserName: 'ContainerUser' } },
              resources: { limits: { cpu: '1' } },
            },
          ],
        }),
      ),
    ).to.deep.equal([]);
  });

  it('lists every field the API forbids on a Windows pod, pod first, then containers in order', () => {
    const pod = podWith({
      securityContext: {
        appArmorProfile: { type: 'RuntimeDefault' },
        seLinuxOptions: { level: 's0' },
        seLinuxChangePolicy: 'Recursive',
        seccompProfile: { type: 'RuntimeDefault' },
        fsGroup: 1,
        fsGroupChangePolicy: 'Always',
        runAsUser: 1,
        runAsGroup: 1,
        supplementalGroups: [],
        supplementalGroupsPolicy: 'Merge',
        sysctls: [{ name: 'net.ipv4.ip_forward', value: '1' }],
      },
      hostUsers: true,
      shareProcessNamespace: false,
      hostPID: true,
      hostIPC: true,
      resources: { limits: { cpu: '1' } },
      initContainers: [{ name: 'init', securityContext: { procMount: 'Default' } }],
      containers: [
        {
          name: 'app',
          securityContext: {
            appArmorProfile: { type: 'RuntimeDefault' },
            seLinuxOptions: { level: 's0' },
            seccompProfile: { type: 'RuntimeDefault' },
            capabilities: {},
            readOnlyRootFilesystem: false,
            privileged: false,
            allowPrivilegeEscalation: false,
            runAsUser: 1,
            runAsGroup: 1,
          },
        },
      ],
      ephemeralContainers: [{ name: 'debug', securityContext: { capabilities: { drop: ['ALL'] } } }],
    });
    const sc = (fields: string[], base: string) => fields.map((f) => `${base}/securityContext/${f}`);
    expect(linuxOnlyFields(pod)).to.deep.equal([
      ...sc(
        [
          'appArmorProfile',
          'seLinuxOptions',
          'seLinuxChangePolicy',
          'seccompProfile',
          'fsGroup',
          'fsGroupChangePolicy',
          'runAsUser',
          'runAsGroup',
          'supplementalGroups',
          'supplementalGroupsPolicy',
          'sysctls',
        ],
        '/spec',
      ),
      '/spec/hostUsers',
      '/spec/shareProcessNamespace',
      '/spec/hostPID',
      '/spec/hostIPC',
      '/spec/resources',
      '/spec/initContainers/0/securityContext/procMount',
      ...sc(
        [
          'appArmorProfile',
          'seLinuxOptions',
          'seccompProfile',
          'capabilities',
          'readOnlyRootFilesystem',
          'privileged',
          'allowPrivilegeEscalation',
          'runAsUser',
          'runAsGroup',
        ],
        '/spec/containers/0',
      ),
      '/spec/ephemeralContainers/0/securityContext/capabilities',
    ]);
  });

  it('treats null as absent, as the API server decodes it', () => {
    const pod = JSON.parse(
      '{"spec":{"resources":null,"securityContext":{"seccompProfile":null},"containers":[{"name":"a","securityContext":{"capabilities":null}}]}}',
    ) as Pod;
    expect(linuxOnlyFields(pod)).to.deep.equal([]);
  });
});
