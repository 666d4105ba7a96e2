import { noPrivilegeEscalation } from '../../../src/engine/controls/no-privilege-escalation.js';
import { describeControlTable, type ControlRow } from '../../support/control-harness.js';

const apeOf = (pointer: string): string => `${pointer}/securityContext/allowPrivilegeEscalation`;

const rows: ControlRow[] = [
  {
    name: 'absent securityContext: set to false',
    pod: { spec: { containers: [{ name: 'app' }] } },
    expectChanges: [{ target: 'app', path: apeOf('/spec/containers/0'), value: false }],
  },
  {
    name: 'explicit false: no change',
    pod: { spec: { containers: [{ name: 'app', securityContext: { allowPrivilegeEscalation: false } }] } },
    expectChanges: [],
  },
  {
    // Pod Security reports it; overwriting an explicit choice is never ours to do.
    name: 'explicit true: kept',
    pod: { spec: { containers: [{ name: 'app', securityContext: { allowPrivilegeEscalation: true } }] } },
    expectChanges: [],
  },
  {
    // The API rejects allowPrivilegeEscalation: false next to privileged: true.
    name: 'privileged: true: skipped with reason',
    pod: { spec: { containers: [{ name: 'app', securityContext: { privileged: true } }] } },
    expectChanges: [],
    expectSkips: [{ target: 'app', reasonIncludes: 'privileged: true' }],
  },
  {
    name: 'privileged: false: set',
    pod: { spec: { containers: [{ name: 'app', securityContext: { privileged: false } }] } },
    expectChanges: [{ target: 'app', path: apeOf('/spec/containers/0'), value: false }],
  },
  {
    name: 'privileged with an explicit true: kept, nothing to report',
    pod: {
      spec: {
        containers: [{ name: 'app', securityContext: { privileged: true, allowPrivilegeEscalation: true } }],
      },
    },
    expectChanges: [],
  },
  {
    name: 'adds SYS_ADMIN: skipped',
    pod: {
      spec: { containers: [{ name: 'app', securityContext: { capabilities: { add: ['SYS_ADMIN'] } } }] },
    },
    expectChanges: [],
    expectSkips: [{ target: 'app', reasonIncludes: 'SYS_ADMIN' }],
  },
  {
    name: 'adds CAP_SYS_ADMIN: skipped',
    pod: {
      spec: {
        containers: [
          { name: 'app', securityContext: { capabilities: { add: ['NET_RAW', 'CAP_SYS_ADMIN'] } } },
        ],
      },
    },
    expectChanges: [],
    expectSkips: [{ target: 'app', reasonIncludes: 'SYS_ADMIN' }],
  },
  {
    name: 'adds other capabilities only: set',
    pod: {
      spec: {
        containers: [{ name: 'app', securityContext: { capabilities: { add: ['NET_ADMIN', 'NET_RAW'] } } }],
      },
    },
    expectChanges: [{ target: 'app', path: apeOf('/spec/containers/0'), value: false }],
  },
  {
    name: 'drops SYS_ADMIN: set, only add matters',
    pod: {
      spec: { containers: [{ name: 'app', securityContext: { capabilities: { drop: ['SYS_ADMIN'] } } }] },
    },
    expectChanges: [{ target: 'app', path: apeOf('/spec/containers/0'), value: false }],
  },
  {
    name: 'mixed pod: each container decided on its own',
    pod: {
      spec: {
        initContainers: [{ name: 'init' }],
        containers: [{ name: 'priv', securityContext: { privileged: true } }, { name: 'app' }],
        ephemeralContainers: [{ name: 'debug' }],
      },
    },
    expectChanges: [
      { target: 'init', path: apeOf('/spec/initContainers/0'), value: false },
      { target: 'app', path: apeOf('/spec/containers/1'), value: false },
      { target: 'debug', path: apeOf('/spec/ephemeralContainers/0'), value: false },
    ],
    expectSkips: [{ target: 'priv', reasonIncludes: 'privileged' }],
  },
  {
    name: 'opted-out container: left alone and reported',
    pod: { spec: { containers: [{ name: 'app' }, { name: 'legacy' }] } },
    optedOut: ['legacy'],
    expectChanges: [{ target: 'app', path: apeOf('/spec/containers/0'), value: false }],
    expectSkips: [{ target: 'legacy', reasonIncludes: 'opted out' }],
  },
  {
    name: 'ephemeral scope: only the ephemeral container changes',
    pod: { spec: { containers: [{ name: 'app' }], ephemeralContainers: [{ name: 'debug' }] } },
    podLevel: false,
    expectChanges: [{ target: 'debug', path: apeOf('/spec/ephemeralContainers/0'), value: false }],
  },
  {
    name: 'ephemeral scope: a privileged debug container is skipped',
    pod: {
      spec: {
        containers: [{ name: 'app' }],
        ephemeralContainers: [{ name: 'debug', securityContext: { privileged: true } }],
      },
    },
    podLevel: false,
    expectChanges: [],
    expectSkips: [{ target: 'debug', reasonIncludes: 'privileged' }],
  },
  {
    name: 'Windows pod: skipped, the field is forbidden there',
    pod: { spec: { os: { name: 'windows' }, containers: [{ name: 'app' }] } },
    expectChanges: [],
    expectSkips: [{ target: 'app', reasonIncludes: 'Windows' }],
  },
];

describe('controls/no-privilege-escalation', () => {
  describeControlTable(noPrivilegeEscalation, rows);
});
