import { defaultResources } from '../../../src/engine/controls/default-resources.js';
import { DEFAULT_ENGINE_SETTINGS } from '../../../src/engine/resolve/settings.js';
import { describeControlTable, type ControlRow, type ExpectedChange } from '../../support/control-harness.js';

type Field = 'limits/cpu' | 'requests/cpu' | 'limits/memory' | 'requests/memory';

/** Changes for one container; the control visits cpu then memory, limit before request. */
function set(target: string, pointer: string, values: Partial<Record<Field, string>>): ExpectedChange[] {
  const order: Field[] = ['limits/cpu', 'requests/cpu', 'limits/memory', 'requests/memory'];
  return order
    .filter((field) => values[field] !== undefined)
    .map((field) => ({ target, path: `${pointer}/resources/${field}`, value: values[field] }));
}

const ALL_DEFAULTS = {
  'limits/cpu': '500m',
  'requests/cpu': '100m',
  'limits/memory': '512Mi',
  'requests/memory': '128Mi',
} as const;

const rows: ControlRow[] = [
  {
    name: 'no resources: all four defaults',
    pod: { spec: { containers: [{ name: 'app' }] } },
    expectChanges: set('app', '/spec/containers/0', ALL_DEFAULTS),
  },
  {
    name: 'all four set, even unusually: nothing overwritten',
    pod: {
      spec: {
        containers: [
          {
            name: 'app',
            resources: { requests: { cpu: '4', memory: '8Gi' }, limits: { cpu: '4', memory: '8Gi' } },
          },
        ],
      },
    },
    expectChanges: [],
  },
  {
    // kubernetes/kubernetes#51430: a 512Mi default limit under a 1Gi request is rejected.
    name: 'memory request 1Gi without limit: limit raised to 1Gi, not 512Mi',
    pod: { spec: { containers: [{ name: 'app', resources: { requests: { memory: '1Gi' } } }] } },
    expectChanges: set('app', '/spec/containers/0', {
      'limits/cpu': '500m',
      'requests/cpu': '100m',
      'limits/memory': '1Gi',
    }),
  },
  {
    name: 'cpu limit 50m without request: request lowered to 50m',
    pod: { spec: { containers: [{ name: 'app', resources: { limits: { cpu: '50m' } } }] } },
    expectChanges: set('app', '/spec/containers/0', {
      'requests/cpu': '50m',
      'limits/memory': '512Mi',
      'requests/memory': '128Mi',
    }),
  },
  {
    name: 'cpu request 0.5 equals the 500m default limit: the default is used as written',
    pod: { spec: { containers: [{ name: 'app', resources: { requests: { cpu: '0.5' } } }] } },
    expectChanges: set('app', '/spec/containers/0', {
      'limits/cpu': '500m',
      'limits/memory': '512Mi',
      'requests/memory': '128Mi',
    }),
  },
  {
    name: 'cpu request 0.6 exceeds 500m: limit raised to 0.6 (a string comparison would say otherwise)',
    pod: { spec: { containers: [{ name: 'app', resources: { requests: { cpu: '0.6' } } }] } },
    expectChanges: set('app', '/spec/containers/0', {
      'limits/cpu': '0.6',
      'limits/memory': '512Mi',
      'requests/memory': '128Mi',
    }),
  },
  {
    name: 'cpu request 1e3 (a thousand cores): limit raised to 1e3',
    pod: { spec: { containers: [{ name: 'app', resources: { requests: { cpu: '1e3' } } }] } },
    expectChanges: set('app', '/spec/containers/0', {
      'limits/cpu': '1e3',
      'limits/memory': '512Mi',
      'requests/memory': '128Mi',
    }),
  },
  {
    name: 'memory request 1e3 (bytes) is below 512Mi: default limit',
    pod: { spec: { containers: [{ name: 'app', resources: { requests: { memory: '1e3' } } }] } },
    expectChanges: set('app', '/spec/containers/0', {
      'limits/cpu': '500m',
      'requests/cpu': '100m',
      'limits/memory': '512Mi',
    }),
  },
  {
    name: 'memory limit 128M is below the 128Mi default request: request lowered to 128M',
    pod: { spec: { containers: [{ name: 'app', resources: { limits: { memory: '128M' } } }] } },
    expectChanges: set('app', '/spec/containers/0', {
      'limits/cpu': '500m',
      'requests/cpu': '100m',
      'requests/memory': '128M',
    }),
  },
  {
    name: 'memory limit 128Mi equals the default request: the default is used as written',
    pod: { spec: { containers: [{ name: 'app', resources: { limits: { memory: '128Mi' } } }] } },
    expectChanges: set('app', '/spec/containers/0', {
      'limits/cpu': '500m',
      'requests/cpu': '100m',
      'requests/memory': '128Mi',
    }),
  },
  {
    name: 'memory request 1.5Gi against a 1.6G default limit: 1.5Gi is larger, limit raised',
    pod: { spec: { containers: [{ name: 'app', resources: { requests: { memory: '1.5Gi' } } }] } },
    policy: {
      resources: { ...DEFAULT_ENGINE_SETTINGS.resources, limits: { cpu: '500m', memory: '1.6G' } },
    },
    expectChanges: set('app', '/spec/containers/0', {
      'limits/cpu': '500m',
      'requests/cpu': '100m',
      'limits/memory': '1.5Gi',
    }),
  },
  {
    name: 'a default disabled with null is not applied',
    pod: { spec: { containers: [{ name: 'app' }] } },
    policy: {
      resources: { requests: { cpu: '100m', memory: null }, limits: { cpu: null, memory: '512Mi' } },
    },
    expectChanges: set('app', '/spec/containers/0', { 'requests/cpu': '100m', 'limits/memory': '512Mi' }),
  },
  {
    name: 'disabled limit default: an existing low limit still lowers the request default',
    pod: { spec: { containers: [{ name: 'app', resources: { limits: { cpu: '10m' } } }] } },
    policy: {
      resources: { requests: { cpu: '100m', memory: null }, limits: { cpu: null, memory: null } },
    },
    expectChanges: set('app', '/spec/containers/0', { 'requests/cpu': '10m' }),
  },
  {
    name: 'pod-level spec.resources: every container skipped',
    pod: {
      spec: {
        resources: { limits: { cpu: '1', memory: '1Gi' } },
        initContainers: [{ name: 'init' }],
        containers: [{ name: 'app' }],
      },
    },
    expectChanges: [],
    expectSkips: [
      { target: 'init', reasonIncludes: 'pod-level resources' },
      { target: 'app', reasonIncludes: 'pod-level resources' },
    ],
  },
  {
    name: 'unparseable cpu request: cpu skipped without a crash, memory still defaulted',
    pod: { spec: { containers: [{ name: 'app', resources: { requests: { cpu: 'lots' } } }] } },
    expectChanges: set('app', '/spec/containers/0', { 'limits/memory': '512Mi', 'requests/memory': '128Mi' }),
    expectSkips: [{ target: 'app', reasonIncludes: 'cpu request is not a valid quantity' }],
  },
  {
    name: 'unparseable memory limit without request: request left unset and reported',
    pod: { spec: { containers: [{ name: 'app', resources: { limits: { memory: '1 GB' } } }] } },
    expectChanges: set('app', '/spec/containers/0', { 'limits/cpu': '500m', 'requests/cpu': '100m' }),
    expectSkips: [{ target: 'app', reasonIncludes: 'memory limit is not a valid quantity' }],
  },
  {
    name: 'init containers and sidecars are covered; ephemeral containers never are',
    pod: {
      spec: {
        initContainers: [{ name: 'proxy', restartPolicy: 'Always' }],
        containers: [{ name: 'app' }],
        ephemeralContainers: [{ name: 'debug' }],
      },
    },
    expectChanges: [
      ...set('proxy', '/spec/initContainers/0', ALL_DEFAULTS),
      ...set('app', '/spec/containers/0', ALL_DEFAULTS),
    ],
  },
  {
    // The API forbids resources on ephemeral containers.
    name: 'ephemeral scope: nothing to do',
    pod: { spec: { containers: [{ name: 'app' }], ephemeralContainers: [{ name: 'debug' }] } },
    podLevel: false,
    expectChanges: [],
  },
  {
    name: 'opted-out container: left alone and reported',
    pod: { spec: { containers: [{ name: 'app' }, { name: 'batch' }] } },
    optedOut: ['batch'],
    expectChanges: set('app', '/spec/containers/0', ALL_DEFAULTS),
    expectSkips: [{ target: 'batch', reasonIncludes: 'opted out' }],
  },
  {
    name: 'Windows pod: resources are allowed there, defaults applied',
    pod: { spec: { os: { name: 'windows' }, containers: [{ name: 'app' }] } },
    expectChanges: set('app', '/spec/containers/0', ALL_DEFAULTS),
  },
];

describe('controls/default-resources', () => {
  describeControlTable(defaultResources, rows);
});
