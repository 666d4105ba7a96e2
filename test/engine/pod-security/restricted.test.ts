import { expect } from 'chai';
import { visitContainers } from '../../../src/engine/controls/visitor.js';
import { checkRestricted } from '../../../src/engine/pod-security/restricted.js';
import type { Container, Pod, PodSecurityContext, SecurityContext } from '../../../src/engine/pod/model.js';

// Partial<> turns the client library's model classes into plain object types, which spread cleanly.
/** What every hardened container carries; rows override single fields. */
const SECURE: Partial<SecurityContext> = { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } };
const SECURE_POD: Partial<PodSecurityContext> = {
  runAsNonRoot: true,
  seccompProfile: { type: 'RuntimeDefault' },
};

interface Shape {
  podSc?: Partial<PodSecurityContext>;
  sc?: Partial<SecurityContext>;
  spec?: Partial<NonNullable<Pod['spec']>>;
  container?: Partial<Container>;
}

/**
 * A pod that passes "restricted", with the row's overrides merged in. An override of `undefined`
 * removes the field, which is how rows express "unset".
 */
function pod({ podSc = {}, sc = {}, spec = {}, container = {} }: Shape = {}): Pod {
  return {
    spec: {
      securityContext: { ...SECURE_POD, ...podSc },
      containers: [{ name: 'app', ...container, securityContext: { ...SECURE, ...sc } }],
      ...spec,
    },
  };
}

interface Row {
  name: string;
  pod: Pod;
  podLevel?: boolean;
  /** `check:target`, in the order they are reported. */
  expect: string[];
  detailIncludes?: string;
}

function check(row: Row): void {
  const podLevel = row.podLevel ?? true;
  const refs = visitContainers(row.pod, (list) => podLevel || list === 'ephemeralContainers');
  const violations = checkRestricted(row.pod, refs, podLevel);
  expect(violations.map((v) => `${v.check}:${v.target}`)).to.deep.equal(row.expect);
  if (row.detailIncludes !== undefined) expect(violations[0]?.detail).to.include(row.detailIncludes);
}

const WINDOWS = { os: { name: 'windows' } };

const rows: Row[] = [
  { name: 'compliant pod passes', pod: pod(), expect: [] },

  // host-namespaces
  ...(['hostNetwork', 'hostPID', 'hostIPC'] as const).map((field) => ({
    name: `host-namespaces: ${field}: true fails`,
    pod: pod({ spec: { [field]: true } }),
    expect: ['host-namespaces:pod'],
    detailIncludes: field,
  })),
  {
    name: 'host-namespaces: explicit false passes',
    pod: pod({ spec: { hostNetwork: false, hostPID: false } }),
    expect: [],
  },

  // restricted-volumes
  {
    name: 'restricted-volumes: every allowed source passes',
    pod: pod({
      spec: {
        volumes: [
          { name: 'a', configMap: { name: 'c' } },
          { name: 'b', downwardAPI: {} },
          { name: 'c', emptyDir: {} },
          { name: 'd', projected: { sources: [] } },
          { name: 'e', secret: { secretName: 's' } },
          { name: 'f', csi: { driver: 'x' } },
          { name: 'g', persistentVolumeClaim: { claimName: 'p' } },
          { name: 'h', ephemeral: {} },
          { name: 'i', image: { reference: 'r' } },
        ],
      },
    }),
    expect: [],
  },
  {
    name: 'restricted-volumes: hostPath fails',
    pod: pod({ spec: { volumes: [{ name: 'root', hostPath: { path: '/' } }] } }),
    expect: ['restricted-volumes:pod'],
    detailIncludes: 'hostPath',
  },
  {
    name: 'restricted-volumes: nfs fails, one violation per volume',
    pod: pod({
      spec: {
        volumes: [
          { name: 'n', nfs: { server: 's', path: '/' } },
          { name: 'ok', emptyDir: {} },
          { name: 'h', hostPath: { path: '/var' } },
        ],
      },
    }),
    expect: ['restricted-volumes:pod', 'restricted-volumes:pod'],
  },

  // privileged
  { name: 'privileged: true fails', pod: pod({ sc: { privileged: true } }), expect: ['privileged:app'] },
  { name: 'privileged: false passes', pod: pod({ sc: { privileged: false } }), expect: [] },

  // host-ports
  {
    name: 'host-ports: a hostPort fails',
    pod: pod({ container: { ports: [{ containerPort: 80, hostPort: 8080 }] } }),
    expect: ['host-ports:app'],
    detailIncludes: '8080',
  },
  {
    name: 'host-ports: hostPort 0 and containerPort only pass',
    pod: pod({ container: { ports: [{ containerPort: 80, hostPort: 0 }, { containerPort: 81 }] } }),
    expect: [],
  },

  // allow-privilege-escalation
  {
    name: 'allow-privilege-escalation: unset fails',
    pod: pod({ sc: { allowPrivilegeEscalation: undefined } }),
    expect: ['allow-privilege-escalation:app'],
  },
  {
    name: 'allow-privilege-escalation: true fails',
    pod: pod({ sc: { allowPrivilegeEscalation: true } }),
    expect: ['allow-privilege-escalation:app'],
  },

  // capabilities
  {
    name: 'capabilities: no drop fails',
    pod: pod({ sc: { capabilities: undefined } }),
    expect: ['capabilities:app'],
  },
  {
    name: 'capabilities: lowercase "all" fails',
    pod: pod({ sc: { capabilities: { drop: ['all'] } } }),
    expect: ['capabilities:app'],
  },
  {
    name: 'capabilities: add NET_BIND_SERVICE passes',
    pod: pod({ sc: { capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] } } }),
    expect: [],
  },
  {
    name: 'capabilities: add NET_ADMIN fails even with drop ALL',
    pod: pod({ sc: { capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE', 'NET_ADMIN'] } } }),
    expect: ['capabilities:app'],
    detailIncludes: 'NET_ADMIN',
  },

  // seccomp
  {
    name: 'seccomp: pod-level RuntimeDefault covers containers without their own',
    pod: pod(),
    expect: [],
  },
  {
    name: 'seccomp: pod-level Localhost passes',
    pod: pod({ podSc: { seccompProfile: { type: 'Localhost', localhostProfile: 'p.json' } } }),
    expect: [],
  },
  {
    name: 'seccomp: pod-level Unconfined fails at pod level only',
    pod: pod({ podSc: { seccompProfile: { type: 'Unconfined' } } }),
    expect: ['seccomp:pod'],
  },
  {
    name: 'seccomp: unset everywhere fails per container',
    pod: pod({ podSc: { seccompProfile: undefined } }),
    expect: ['seccomp:app'],
    detailIncludes: 'unset',
  },
  {
    name: 'seccomp: set on every container without a pod-level profile passes',
    pod: pod({ podSc: { seccompProfile: undefined }, sc: { seccompProfile: { type: 'RuntimeDefault' } } }),
    expect: [],
  },
  {
    name: 'seccomp: container Unconfined fails even under a pod-level RuntimeDefault',
    pod: pod({ sc: { seccompProfile: { type: 'Unconfined' } } }),
    expect: ['seccomp:app'],
  },
  {
    name: 'seccomp: container Localhost under a pod-level Unconfined: only the pod fails',
    pod: pod({
      podSc: { seccompProfile: { type: 'Unconfined' } },
      sc: { seccompProfile: { type: 'Localhost', localhostProfile: 'p.json' } },
    }),
    expect: ['seccomp:pod'],
  },

  // run-as-non-root
  {
    name: 'run-as-non-root: pod-level true covers containers',
    pod: pod(),
    expect: [],
  },
  {
    name: 'run-as-non-root: set on every container without pod level passes',
    pod: pod({ podSc: { runAsNonRoot: undefined }, sc: { runAsNonRoot: true } }),
    expect: [],
  },
  {
    name: 'run-as-non-root: unset everywhere fails per container',
    pod: pod({ podSc: { runAsNonRoot: undefined } }),
    expect: ['run-as-non-root:app'],
    detailIncludes: 'unset',
  },
  {
    name: 'run-as-non-root: container false fails even under pod-level true',
    pod: pod({ sc: { runAsNonRoot: false } }),
    expect: ['run-as-non-root:app'],
    detailIncludes: 'false',
  },
  {
    name: 'run-as-non-root: pod-level false fails on the pod and on every inheriting container',
    pod: pod({ podSc: { runAsNonRoot: false } }),
    expect: ['run-as-non-root:pod', 'run-as-non-root:app'],
  },
  {
    name: 'run-as-non-root: pod-level false with every container true: only the pod fails',
    pod: pod({ podSc: { runAsNonRoot: false }, sc: { runAsNonRoot: true } }),
    expect: ['run-as-non-root:pod'],
  },

  // run-as-user
  { name: 'run-as-user: unset passes', pod: pod(), expect: [] },
  {
    name: 'run-as-user: non-zero passes',
    pod: pod({ podSc: { runAsUser: 1000 }, sc: { runAsUser: 1 } }),
    expect: [],
  },
  {
    name: 'run-as-user: pod-level 0 fails',
    pod: pod({ podSc: { runAsUser: 0 } }),
    expect: ['run-as-user:pod'],
  },
  { name: 'run-as-user: container 0 fails', pod: pod({ sc: { runAsUser: 0 } }), expect: ['run-as-user:app'] },

  // which containers
  {
    name: 'init, sidecar and ephemeral containers are all judged, in visiting order',
    pod: {
      spec: {
        securityContext: SECURE_POD,
        initContainers: [
          { name: 'init' },
          { name: 'proxy', restartPolicy: 'Always', securityContext: SECURE },
        ],
        containers: [{ name: 'app', securityContext: SECURE }],
        ephemeralContainers: [{ name: 'debug', securityContext: { ...SECURE, privileged: true } }],
      },
    },
    expect: ['allow-privilege-escalation:init', 'capabilities:init', 'privileged:debug'],
  },

  // ephemeral-containers subresource
  {
    name: 'pod-level fields are not judged when podLevel is false; inheritance still counts',
    pod: pod({
      podSc: { runAsUser: 0, runAsNonRoot: false },
      spec: { hostNetwork: true, volumes: [{ name: 'h', hostPath: { path: '/' } }] },
    }),
    podLevel: false,
    expect: [],
  },
  {
    name: 'podLevel false: the new ephemeral container inherits nothing from an unhardened pod',
    pod: {
      spec: {
        containers: [{ name: 'app' }],
        ephemeralContainers: [{ name: 'debug', securityContext: SECURE }],
      },
    },
    podLevel: false,
    expect: ['seccomp:debug', 'run-as-non-root:debug'],
  },

  // Windows
  {
    name: 'Windows: allowPrivilegeEscalation, capabilities and seccomp are exempt',
    pod: {
      spec: {
        os: { name: 'windows' },
        securityContext: { runAsNonRoot: true },
        containers: [{ name: 'app' }],
      },
    },
    expect: [],
  },
  {
    name: 'Windows: pod-level Unconfined seccomp is exempt too',
    pod: pod({ podSc: { seccompProfile: { type: 'Unconfined' } }, spec: WINDOWS }),
    expect: [],
  },
  {
    name: 'Windows: runAsNonRoot is not exempt',
    pod: { spec: { ...WINDOWS, containers: [{ name: 'app' }] } },
    expect: ['run-as-non-root:app'],
  },
  {
    name: 'Windows: a ContainerAdministrator container fails runAsNonRoot, and the detail says why',
    pod: {
      spec: {
        ...WINDOWS,
        containers: [
          { name: 'admin', securityContext: { windowsOptions: { runAsUserName: 'ContainerAdministrator' } } },
        ],
      },
    },
    expect: ['run-as-non-root:admin'],
    detailIncludes: 'runAsNonRoot unset (runs as ContainerAdministrator)',
  },
  {
    name: 'Windows: host namespaces and privileged are not exempt',
    pod: pod({ spec: { ...WINDOWS, hostNetwork: true }, sc: { privileged: true } }),
    expect: ['host-namespaces:pod', 'privileged:app'],
  },
  {
    name: 'Windows only by its nodeSelector: judged as Linux, as Pod Security does without spec.os.name',
    pod: {
      spec: {
        nodeSelector: { 'kubernetes.io/os': 'windows' },
        securityContext: { runAsNonRoot: true },
        containers: [{ name: 'app' }],
      },
    },
    expect: ['allow-privilege-escalation:app', 'capabilities:app', 'seccomp:app'],
  },
  {
    name: 'an os other than windows is judged as Linux',
    pod: pod({ spec: { os: { name: 'linux' } }, sc: { capabilities: undefined } }),
    expect: ['capabilities:app'],
  },
];

describe('engine/pod-security checkRestricted', () => {
  for (const row of rows) {
    it(row.name, () => {
      check(row);
    });
  }

  it('reports nothing about containers that are out of scope', () => {
    const bad: Pod = { spec: { containers: [{ name: 'a', securityContext: { privileged: true } }] } };
    expect(checkRestricted(bad, [], false)).to.deep.equal([]);
  });
});
