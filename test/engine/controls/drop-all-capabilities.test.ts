import { dropAllCapabilities } from '../../../src/engine/controls/drop-all-capabilities.js';
import { describeControlTable, type ControlRow } from '../../support/control-harness.js';

const dropOf = (pointer: string): string => `${pointer}/securityContext/capabilities/drop`;

const rows: ControlRow[] = [
  {
    name: 'absent securityContext: drop list created',
    pod: { spec: { containers: [{ name: 'app' }] } },
    expectChanges: [{ target: 'app', path: dropOf('/spec/containers/0'), value: ['ALL'] }],
    expectDraftSubset: { spec: { containers: [{ securityContext: { capabilities: { drop: ['ALL'] } } }] } },
  },
  {
    name: 'securityContext without capabilities: drop list created, other fields kept',
    pod: { spec: { containers: [{ name: 'app', securityContext: { runAsUser: 7 } }] } },
    expectChanges: [{ target: 'app', path: dropOf('/spec/containers/0'), value: ['ALL'] }],
    expectDraftSubset: { spec: { containers: [{ securityContext: { runAsUser: 7 } }] } },
  },
  {
    name: 'existing drop list: ALL appended after the existing entries',
    pod: {
      spec: { containers: [{ name: 'app', securityContext: { capabilities: { drop: ['NET_RAW'] } } }] },
    },
    expectChanges: [{ target: 'app', path: `${dropOf('/spec/containers/0')}/1`, value: 'ALL' }],
    expectDraftSubset: {
      spec: { containers: [{ securityContext: { capabilities: { drop: ['NET_RAW', 'ALL'] } } }] },
    },
  },
  {
    name: 'empty drop list: ALL becomes its first entry',
    pod: { spec: { containers: [{ name: 'app', securityContext: { capabilities: { drop: [] } } }] } },
    expectChanges: [{ target: 'app', path: `${dropOf('/spec/containers/0')}/0`, value: 'ALL' }],
  },
  {
    // Pod Security compares case-sensitively (istio/istio#7488).
    name: 'lowercase "all" does not count: it stays and ALL is added',
    pod: { spec: { containers: [{ name: 'app', securityContext: { capabilities: { drop: ['all'] } } }] } },
    expectChanges: [{ target: 'app', path: `${dropOf('/spec/containers/0')}/1`, value: 'ALL' }],
    expectDraftSubset: {
      spec: { containers: [{ securityContext: { capabilities: { drop: ['all', 'ALL'] } } }] },
    },
  },
  {
    // Istio's init container needs these (istio/istio#11571); dropping ALL does not remove added ones.
    name: 'add: [NET_ADMIN, NET_RAW] kept',
    pod: {
      spec: {
        initContainers: [
          { name: 'istio-init', securityContext: { capabilities: { add: ['NET_ADMIN', 'NET_RAW'] } } },
        ],
        containers: [{ name: 'app' }],
      },
    },
    expectChanges: [
      { target: 'istio-init', path: dropOf('/spec/initContainers/0'), value: ['ALL'] },
      { target: 'app', path: dropOf('/spec/containers/0'), value: ['ALL'] },
    ],
    expectDraftSubset: {
      spec: {
        initContainers: [
          { securityContext: { capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] } } },
        ],
      },
    },
  },
  {
    name: 'already drops ALL: no change',
    pod: { spec: { containers: [{ name: 'app', securityContext: { capabilities: { drop: ['ALL'] } } }] } },
    expectChanges: [],
  },
  {
    name: 'already drops ALL among others: no change, order kept',
    pod: {
      spec: {
        containers: [
          { name: 'app', securityContext: { capabilities: { drop: ['NET_RAW', 'ALL', 'CHOWN'] } } },
        ],
      },
    },
    expectChanges: [],
  },
  {
    name: 'every container list is covered, in visiting order',
    pod: {
      spec: {
        initContainers: [{ name: 'init' }],
        containers: [{ name: 'app' }],
        ephemeralContainers: [{ name: 'debug' }],
      },
    },
    expectChanges: [
      { target: 'init', path: dropOf('/spec/initContainers/0'), value: ['ALL'] },
      { target: 'app', path: dropOf('/spec/containers/0'), value: ['ALL'] },
      { target: 'debug', path: dropOf('/spec/ephemeralContainers/0'), value: ['ALL'] },
    ],
  },
  {
    name: 'opted-out container: left alone and reported',
    pod: { spec: { containers: [{ name: 'app' }, { name: 'vpn' }] } },
    optedOut: ['vpn'],
    expectChanges: [{ target: 'app', path: dropOf('/spec/containers/0'), value: ['ALL'] }],
    expectSkips: [{ target: 'vpn', reasonIncludes: 'opted out' }],
  },
  {
    name: 'ephemeral scope: only the ephemeral container changes',
    pod: { spec: { containers: [{ name: 'app' }], ephemeralContainers: [{ name: 'debug' }] } },
    podLevel: false,
    expectChanges: [{ target: 'debug', path: dropOf('/spec/ephemeralContainers/0'), value: ['ALL'] }],
  },
  {
    name: 'Windows pod: skipped, capabilities are forbidden there',
    pod: { spec: { os: { name: 'windows' }, containers: [{ name: 'app' }, { name: 'b' }] } },
    expectChanges: [],
    expectSkips: [
      { target: 'app', reasonIncludes: 'Windows' },
      { target: 'b', reasonIncludes: 'Windows' },
    ],
  },
];

describe('controls/drop-all-capabilities', () => {
  describeControlTable(dropAllCapabilities, rows);
});
