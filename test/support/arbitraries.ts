/**
 * fast-check generators for pods as the API server would send them on CREATE.
 *
 * The domain mixes secure and insecure explicit values, but only produces objects the API server would
 * accept: unique container and volume names, requests never above limits, mounts that name an existing
 * volume and do not repeat a mountPath, no `allowPrivilegeEscalation: false` next to `privileged: true`
 * or SYS_ADMIN, no Linux-only fields on Windows pods, and no shared object references (the JSON the API
 * server sends is a tree).
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { CONTROL_IDS } from '../../src/engine/controls/ids.js';
import {
  isWindowsPod,
  type Container,
  type Pod,
  type PodSecurityContext,
  type SecurityContext,
  type Volume,
} from '../../src/engine/pod/model.js';
import { compareQuantityText } from '../../src/engine/pod/quantity.js';

export const PREFIX = 'pod-hardener.io';
export const QUANTITIES = ['50m', '0.1', '1', '2', '1.5', '100Mi', '1Gi', '128M', '1e3', '2e9'] as const;
export const ADD_CAPABILITIES = ['NET_BIND_SERVICE', 'NET_ADMIN', 'NET_RAW', 'SYS_ADMIN'] as const;
export const DROP_CAPABILITIES = ['ALL', 'all', 'NET_RAW'] as const;
/** Container names the properties add themselves (a reinvoking webhook, `kubectl debug`). */
export const INJECTED = 'injected';
export const RESERVED_NAMES: readonly string[] = [INJECTED, 'debugger', 'debug-old'];

const MOUNT_PATHS = ['/tmp', '/tmp/', '/var/run', '/var/cache/nginx/', '/data', '/etc/config'] as const;
const WRITABLE_PATH_ENTRIES: readonly string[] = [
  '/var/cache/nginx',
  '/var/run/',
  '/tmp/',
  '/data',
  '/Data_Dir',
  '/var//lib',
  'relative/path',
  '/a/../b',
  `/${'long-segment'.repeat(6)}`,
  // Spells out the name `/tmp` gets when `pod-hardener-tmp` is taken.
  '/tmp/2',
  // Spells out, in plain segments, the hash suffix `/Data_Dir` gets.
  `/data/dir/${createHash('sha256').update('/Data_Dir').digest('hex').slice(0, 8)}`,
];

const MAX_CONTAINERS = 4;
const MAX_INIT_CONTAINERS = 2;

/** A DNS label (RFC 1123), at most 63 characters, never one of the reserved names. */
export const dnsLabelArb: fc.Arbitrary<string> = fc
  .oneof(
    { withCrossShrink: true },
    { weight: 4, arbitrary: fc.constantFrom('app', 'web', 'proxy', 'istio-init', 'log-shipper', 'a', 'db1') },
    { weight: 4, arbitrary: fc.stringMatching(/^[a-z]([a-z0-9-]{0,10}[a-z0-9])?$/) },
    { weight: 1, arbitrary: fc.constant(`c${'0123456789'.repeat(6)}xy`) },
  )
  .filter((name) => name.length <= 63 && !RESERVED_NAMES.includes(name));

const seccompArb = fc.constantFrom<() => NonNullable<SecurityContext['seccompProfile']>>(
  () => ({ type: 'RuntimeDefault' }),
  () => ({ type: 'Unconfined' }),
  () => ({ type: 'Localhost', localhostProfile: 'profiles/audit.json' }),
);

/** A Linux container securityContext; every field optional, each from secure and insecure values. */
const linuxSecurityContextArb: fc.Arbitrary<SecurityContext> = fc
  .record(
    {
      runAsUser: fc.constantFrom(0, 1000),
      runAsNonRoot: fc.boolean(),
      privileged: fc.boolean(),
      allowPrivilegeEscalation: fc.boolean(),
      capabilities: fc.record(
        { add: fc.subarray([...ADD_CAPABILITIES]), drop: fc.subarray([...DROP_CAPABILITIES]) },
        { requiredKeys: [] },
      ),
      readOnlyRootFilesystem: fc.boolean(),
      seccompProfile: seccompArb.map((make) => make()),
    },
    { requiredKeys: [] },
  )
  .map((sc) => {
    // The API rejects allowPrivilegeEscalation: false next to privileged: true or an added SYS_ADMIN.
    const sysAdmin = (sc.capabilities?.add ?? []).includes('SYS_ADMIN');
    if (sc.allowPrivilegeEscalation === false && (sc.privileged === true || sysAdmin)) {
      const rest = { ...sc };
      delete rest.allowPrivilegeEscalation;
      return rest;
    }
    return sc;
  });

const windowsUserArb = fc.option(fc.constantFrom('ContainerUser', 'ContainerAdministrator'), {
  nil: undefined,
});

/** Keeps only what the API allows on a Windows pod's container. */
function windowsContainerContext(sc: SecurityContext, user: string | undefined): SecurityContext {
  const result: SecurityContext = {};
  if (sc.runAsNonRoot !== undefined) result.runAsNonRoot = sc.runAsNonRoot;
  if (user !== undefined) result.windowsOptions = { runAsUserName: user };
  return result;
}

/**
 * Removes every explicit value Pod Security "restricted" rejects, so that a good share of the generated
 * pods give the engine a chance to reach a fully restricted result.
 */
export function withoutInsecureValues<T extends SecurityContext | PodSecurityContext>(sc: T): T {
  const result = structuredClone(sc) as SecurityContext & PodSecurityContext;
  if (result.privileged === true) delete result.privileged;
  if (result.allowPrivilegeEscalation === true) delete result.allowPrivilegeEscalation;
  if (result.runAsNonRoot === false) delete result.runAsNonRoot;
  if (result.runAsUser === 0) delete result.runAsUser;
  if (result.seccompProfile?.type === 'Unconfined') delete result.seccompProfile;
  if (result.capabilities?.add !== undefined) {
    result.capabilities.add = result.capabilities.add.filter((c) => c === 'NET_BIND_SERVICE');
  }
  if (result.windowsOptions?.runAsUserName === 'ContainerAdministrator') delete result.windowsOptions;
  return result as T;
}

export interface ContainerSecuritySpec {
  readonly securityContext: SecurityContext | undefined;
  readonly windowsUser: string | undefined;
}

/** Optional container securityContext; resolved against the pod's OS when the pod is built. */
export const containerSecurityArb: fc.Arbitrary<ContainerSecuritySpec> = fc.record({
  securityContext: fc.option(linuxSecurityContextArb, { nil: undefined }),
  windowsUser: windowsUserArb,
});

export function securityContextFor(
  spec: ContainerSecuritySpec,
  windows: boolean,
): SecurityContext | undefined {
  if (spec.securityContext === undefined) return undefined;
  return windows ? windowsContainerContext(spec.securityContext, spec.windowsUser) : spec.securityContext;
}

type Quantity = (typeof QUANTITIES)[number];
interface ResourcePair {
  readonly request: Quantity | undefined;
  readonly limit: Quantity | undefined;
}

const quantityArb = fc.constantFrom(...QUANTITIES);
/** An optional request and limit; when both are present the request is never above the limit. */
const resourcePairArb: fc.Arbitrary<ResourcePair> = fc
  .record({
    request: fc.option(quantityArb, { nil: undefined }),
    limit: fc.option(quantityArb, { nil: undefined }),
  })
  .map(({ request, limit }) =>
    request !== undefined && limit !== undefined && (compareQuantityText(request, limit) ?? 0) > 0
      ? { request: limit, limit: request }
      : { request, limit },
  );

type Resources = NonNullable<Container['resources']>;
/** Absent, `{}` (what the API server sends for a container without resources), or partial values. */
export const resourcesArb: fc.Arbitrary<Resources | undefined> = fc.oneof(
  { withCrossShrink: true },
  fc.constant(undefined),
  fc.constant({}),
  fc.record({ cpu: resourcePairArb, memory: resourcePairArb }).map(({ cpu, memory }) => {
    const requests: Record<string, string> = {};
    const limits: Record<string, string> = {};
    for (const [resource, pair] of [
      ['cpu', cpu],
      ['memory', memory],
    ] as const) {
      if (pair.request !== undefined) requests[resource] = pair.request;
      if (pair.limit !== undefined) limits[resource] = pair.limit;
    }
    const resources: Resources = {};
    if (Object.keys(requests).length > 0) resources.requests = requests;
    if (Object.keys(limits).length > 0) resources.limits = limits;
    return resources;
  }),
);

interface MountSpec {
  readonly path: string;
  /** Index into the pod's volumes, modulo their number. */
  readonly volume: number;
  readonly readOnly: boolean;
}

interface ContainerSpec {
  readonly security: ContainerSecuritySpec;
  readonly resources: Resources | undefined;
  readonly mounts: readonly MountSpec[];
  readonly sidecar: boolean;
}

const containerSpecArb: fc.Arbitrary<ContainerSpec> = fc.record({
  security: containerSecurityArb,
  resources: resourcesArb,
  mounts: fc.array(
    fc.record({ path: fc.constantFrom(...MOUNT_PATHS), volume: fc.nat(7), readOnly: fc.boolean() }),
    { maxLength: 3 },
  ),
  sidecar: fc.boolean(),
});

/**
 * `pod-hardener-tmp` and `pod-hardener-tmp--2` are the names the engine picks for `/tmp` (first, and
 * after a collision); `pod-hardener-tmp-2` is the plain name of the writable path `/tmp/2`.
 */
const VOLUME_NAMES = [
  'config',
  'data',
  'cache',
  'pod-hardener-tmp',
  'pod-hardener-tmp--2',
  'pod-hardener-tmp-2',
] as const;
type VolumeKind = 'configMap' | 'secret' | 'emptyDir';
interface VolumeSpec {
  readonly name: (typeof VOLUME_NAMES)[number];
  readonly kind: VolumeKind;
}

const volumesArb: fc.Arbitrary<VolumeSpec[]> = fc.uniqueArray(
  fc.record({
    name: fc.constantFrom(...VOLUME_NAMES),
    kind: fc.constantFrom<VolumeKind>('configMap', 'secret', 'emptyDir'),
  }),
  { maxLength: 4, selector: (v) => v.name },
);

function buildVolume({ name, kind }: VolumeSpec): Volume {
  // `pod-hardener-tmp` is always of another kind: the name the engine would pick first is taken.
  const effective: VolumeKind = name === 'pod-hardener-tmp' && kind === 'emptyDir' ? 'configMap' : kind;
  switch (effective) {
    case 'configMap':
      return { name, configMap: { name: `${name}-cm` } };
    case 'secret':
      return { name, secret: { secretName: `${name}-secret` } };
    case 'emptyDir':
      return { name, emptyDir: {} };
  }
}

const podSecurityContextArb: fc.Arbitrary<PodSecurityContext> = fc.record(
  {
    runAsUser: fc.constantFrom(0, 1000),
    runAsNonRoot: fc.boolean(),
    runAsGroup: fc.constant(3000),
    fsGroup: fc.constant(2000),
    seccompProfile: seccompArb.map((make) => make()),
  },
  { requiredKeys: [] },
);

type SkipEntry =
  | { readonly kind: 'global'; readonly control: string }
  | { readonly kind: 'container'; readonly control: string; readonly container: number }
  | { readonly kind: 'unknown-container'; readonly control: string }
  /** Names the container a later webhook injects (see injectedContainerArb): unknown on the first pass. */
  | { readonly kind: 'injected-later'; readonly control: string }
  | { readonly kind: 'unknown-control' };

const controlArb = fc.constantFrom(...CONTROL_IDS);
const skipEntryArb: fc.Arbitrary<SkipEntry> = fc.oneof(
  fc.record({ kind: fc.constant('global' as const), control: controlArb }),
  fc.record({ kind: fc.constant('container' as const), control: controlArb, container: fc.nat(5) }),
  fc.record({ kind: fc.constant('unknown-container' as const), control: controlArb }),
  fc.record({ kind: fc.constant('injected-later' as const), control: controlArb }),
  fc.record({ kind: fc.constant('unknown-control' as const) }),
);

interface AnnotationSpec {
  readonly skipControls: readonly SkipEntry[] | undefined;
  readonly writablePaths: readonly string[] | undefined;
  readonly runAsUser: string | undefined;
  readonly skip: string | undefined;
  readonly others: readonly (readonly [string, string])[];
}

/** `arb` in one case out of `1 + absent`, otherwise undefined. */
function sometimes<T>(arb: fc.Arbitrary<T>, absent: number): fc.Arbitrary<T | undefined> {
  return fc.oneof(
    { withCrossShrink: true },
    { weight: absent, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: arb },
  );
}

const annotationSpecArb: fc.Arbitrary<AnnotationSpec> = fc.record({
  skipControls: sometimes(fc.array(skipEntryArb, { minLength: 1, maxLength: 3 }), 1),
  writablePaths: sometimes(fc.subarray([...WRITABLE_PATH_ENTRIES], { minLength: 1, maxLength: 3 }), 1),
  runAsUser: sometimes(fc.constantFrom('1000', '0', 'abc', '2147483648'), 3),
  // "true" skips the pod, which the properties discard: kept rare.
  skip: sometimes(fc.constantFrom('false', 'yes', 'false', 'true'), 7),
  others: fc.subarray([
    ['example.com/owner', 'team-a'],
    ['app.kubernetes.io/name', 'web'],
    ['note', 'plain key'],
  ] as const),
});

type MetadataShape = 'none' | 'no-annotations' | 'empty-annotations' | 'annotations';

/**
 * How the pod picks its nodes' OS besides `spec.os`: the nodeSelector labels (a RuntimeClass's
 * `scheduling.nodeSelector` arrives merged into the nodeSelector, so it looks the same), or a required
 * node affinity whose every term requires the OS label In [windows].
 */
export const OS_SELECTORS = [
  'windows-node-selector',
  'windows-beta-node-selector',
  'windows-affinity',
  'linux-node-selector',
] as const;
export type OsSelector = (typeof OS_SELECTORS)[number];

function applyOsSelector(spec: NonNullable<Pod['spec']>, selector: OsSelector): void {
  switch (selector) {
    case 'windows-node-selector':
      spec.nodeSelector = { 'kubernetes.io/os': 'windows' };
      return;
    case 'windows-beta-node-selector':
      spec.nodeSelector = { 'beta.kubernetes.io/os': 'windows', 'example.com/pool': 'win' };
      return;
    case 'linux-node-selector':
      spec.nodeSelector = { 'kubernetes.io/os': 'linux' };
      return;
    case 'windows-affinity':
      spec.affinity = {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [
              { matchExpressions: [{ key: 'kubernetes.io/os', operator: 'In', values: ['windows'] }] },
              {
                matchExpressions: [
                  { key: 'beta.kubernetes.io/os', operator: 'In', values: ['windows'] },
                  { key: 'example.com/pool', operator: 'In', values: ['win'] },
                ],
              },
            ],
          },
        },
      };
      return;
  }
}

export interface PodSpecInput {
  /** False: every explicit insecure value is removed (see withoutInsecureValues), and no hostNetwork. */
  readonly insecure: boolean;
  readonly names: readonly string[];
  readonly initContainers: readonly ContainerSpec[];
  readonly containers: readonly ContainerSpec[];
  readonly volumes: readonly VolumeSpec[];
  readonly podSecurityContext: PodSecurityContext | undefined;
  readonly podWindowsUser: string | undefined;
  readonly os: 'linux' | 'windows' | undefined;
  readonly osSelector: OsSelector | undefined;
  /**
   * A pod that only its selector marks as Windows keeps Linux-only fields anyway (a Linux template
   * with a Windows nodeSelector): valid without `spec.os`, which the engine then must not fill.
   */
  readonly linuxFieldsOnWindows: boolean;
  readonly hostNetwork: boolean;
  readonly podResources: boolean;
  readonly metadata: MetadataShape;
  readonly annotations: AnnotationSpec;
}

const podInputArb: fc.Arbitrary<PodSpecInput> = fc.record({
  insecure: fc.oneof(
    { withCrossShrink: true },
    { weight: 2, arbitrary: fc.constant(false) },
    { weight: 3, arbitrary: fc.constant(true) },
  ),
  names: fc.uniqueArray(dnsLabelArb, {
    minLength: MAX_CONTAINERS + MAX_INIT_CONTAINERS,
    maxLength: MAX_CONTAINERS + MAX_INIT_CONTAINERS,
  }),
  initContainers: fc.array(containerSpecArb, { maxLength: MAX_INIT_CONTAINERS }),
  containers: fc.array(containerSpecArb, { minLength: 1, maxLength: MAX_CONTAINERS }),
  volumes: volumesArb,
  podSecurityContext: fc.option(podSecurityContextArb, { nil: undefined }),
  podWindowsUser: windowsUserArb,
  os: fc.oneof(
    { withCrossShrink: true },
    { weight: 5, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constant('linux' as const) },
    { weight: 2, arbitrary: fc.constant('windows' as const) },
  ),
  osSelector: fc.oneof(
    { withCrossShrink: true },
    { weight: 4, arbitrary: fc.constant(undefined) },
    { weight: 3, arbitrary: fc.constantFrom(...OS_SELECTORS) },
  ),
  linuxFieldsOnWindows: fc.oneof(
    { withCrossShrink: true },
    { weight: 3, arbitrary: fc.constant(false) },
    { weight: 1, arbitrary: fc.constant(true) },
  ),
  hostNetwork: fc.oneof(
    { withCrossShrink: true },
    { weight: 6, arbitrary: fc.constant(false) },
    { weight: 1, arbitrary: fc.constant(true) },
  ),
  podResources: fc.oneof(
    { withCrossShrink: true },
    { weight: 8, arbitrary: fc.constant(false) },
    { weight: 1, arbitrary: fc.constant(true) },
  ),
  metadata: fc.constantFrom<MetadataShape>(
    'none',
    'no-annotations',
    'empty-annotations',
    'annotations',
    'annotations',
  ),
  annotations: annotationSpecArb,
});

function trimSlash(mountPath: string): string {
  return mountPath.length > 1 ? mountPath.replace(/\/+$/, '') : mountPath;
}

function buildContainer(
  spec: ContainerSpec,
  name: string,
  windows: boolean,
  volumes: readonly Volume[],
  init: boolean,
): Container {
  const container: Container = { name, image: `registry.example/${name}:1` };
  if (init && spec.sidecar) (container as { restartPolicy?: string }).restartPolicy = 'Always';
  const sc = securityContextFor(spec.security, windows);
  if (sc !== undefined) container.securityContext = sc;
  if (spec.resources !== undefined) container.resources = spec.resources;
  if (volumes.length > 0 && spec.mounts.length > 0) {
    const seen = new Set<string>();
    const mounts = [];
    for (const m of spec.mounts) {
      // The API rejects a repeated mountPath; `/tmp` and `/tmp/` count as the same one here.
      if (seen.has(trimSlash(m.path))) continue;
      seen.add(trimSlash(m.path));
      const volume = volumes[m.volume % volumes.length]!;
      mounts.push(
        m.readOnly
          ? { name: volume.name, mountPath: m.path, readOnly: true }
          : { name: volume.name, mountPath: m.path },
      );
    }
    container.volumeMounts = mounts;
  }
  return container;
}

function buildAnnotations(spec: AnnotationSpec, containerNames: readonly string[]): Record<string, string> {
  const annotations: Record<string, string> = {};
  for (const [key, value] of spec.others) annotations[key] = value;
  if (spec.skipControls !== undefined) {
    annotations[`${PREFIX}/skip-controls`] = spec.skipControls
      .map((entry) => {
        switch (entry.kind) {
          case 'global':
            return entry.control;
          case 'container':
            return `${containerNames[entry.container % containerNames.length]!}/${entry.control}`;
          case 'injected-later':
            return `${INJECTED}/${entry.control}`;
          case 'unknown-container':
            return `nosuch/${entry.control}`;
          case 'unknown-control':
            return 'bogus-control';
        }
      })
      .join(', ');
  }
  if (spec.writablePaths !== undefined)
    annotations[`${PREFIX}/writable-paths`] = spec.writablePaths.join(',');
  if (spec.runAsUser !== undefined) annotations[`${PREFIX}/run-as-user`] = spec.runAsUser;
  if (spec.skip !== undefined) annotations[`${PREFIX}/skip`] = spec.skip;
  return annotations;
}

export function buildPod(input: PodSpecInput): Pod {
  const windowsBySelector =
    input.os === undefined && input.osSelector !== undefined && input.osSelector !== 'linux-node-selector';
  // Only what the API allows on Windows, unless a selector-only Windows pod keeps its Linux fields.
  const windows = input.os === 'windows' || (windowsBySelector && !input.linuxFieldsOnWindows);
  const volumes = input.volumes.map(buildVolume);
  const initNames = input.names.slice(0, input.initContainers.length);
  const mainNames = input.names.slice(
    input.initContainers.length,
    input.initContainers.length + input.containers.length,
  );
  const initContainers = input.initContainers.map((c, i) =>
    buildContainer(c, initNames[i]!, windows, volumes, true),
  );
  const containers = input.containers.map((c, i) =>
    buildContainer(c, mainNames[i]!, windows, volumes, false),
  );

  const spec: NonNullable<Pod['spec']> = { containers };
  if (initContainers.length > 0) spec.initContainers = initContainers;
  if (volumes.length > 0) spec.volumes = volumes;
  if (input.os !== undefined) spec.os = { name: input.os };
  if (input.osSelector !== undefined) applyOsSelector(spec, input.osSelector);
  if (input.hostNetwork && input.insecure && !windows) spec.hostNetwork = true;
  // The API forbids pod-level resources on a pod whose spec.os.name is windows.
  if (input.podResources && input.os !== 'windows') spec.resources = { limits: { cpu: '2', memory: '1Gi' } };
  if (input.podSecurityContext !== undefined) {
    const psc = input.podSecurityContext;
    if (windows) {
      const wsc: PodSecurityContext = {};
      if (psc.runAsNonRoot !== undefined) wsc.runAsNonRoot = psc.runAsNonRoot;
      if (input.podWindowsUser !== undefined) wsc.windowsOptions = { runAsUserName: input.podWindowsUser };
      spec.securityContext = wsc;
    } else {
      spec.securityContext = psc;
    }
  }

  const pod: Pod = { apiVersion: 'v1', kind: 'Pod', spec };
  const name = 'generated';
  switch (input.metadata) {
    case 'none':
      break;
    case 'no-annotations':
      pod.metadata = { name, namespace: 'team-a' };
      break;
    case 'empty-annotations':
      pod.metadata = { name, namespace: 'team-a', annotations: {} };
      break;
    case 'annotations':
      pod.metadata = {
        name,
        namespace: 'team-a',
        annotations: buildAnnotations(input.annotations, [...initNames, ...mainNames]),
      };
      break;
  }
  if (!input.insecure) {
    if (spec.securityContext !== undefined)
      spec.securityContext = withoutInsecureValues(spec.securityContext);
    for (const c of [...initContainers, ...containers]) {
      if (c.securityContext !== undefined) c.securityContext = withoutInsecureValues(c.securityContext);
    }
  }
  // A JSON round trip: no shared references and no undefined fields, exactly like a decoded request.
  return JSON.parse(JSON.stringify(pod)) as Pod;
}

/** A pod as the API server sends it in a CREATE AdmissionReview. */
export const podArb: fc.Arbitrary<Pod> = podInputArb.map(buildPod);

/**
 * An ephemeral container as `kubectl debug` adds it to `pod`, with an optional securityContext and
 * sometimes a target container (which must exist, so it is the pod's first container).
 */
export function ephemeralContainerArb(name: string): fc.Arbitrary<(pod: Pod) => Container> {
  return fc.record({ security: containerSecurityArb, target: fc.boolean() }).map(({ security, target }) => {
    const make = (pod: Pod): Container => {
      const container: Container = { name, image: 'busybox:1.36', stdin: true, tty: true };
      const sc = securityContextFor(security, isWindowsPod(pod));
      if (sc !== undefined) container.securityContext = sc;
      const first = pod.spec?.containers[0]?.name;
      if (target && first !== undefined) {
        (container as { targetContainerName?: string }).targetContainerName = first;
      }
      return JSON.parse(JSON.stringify(container)) as Container;
    };
    return described(make, `ephemeral ${name} ${JSON.stringify({ security, target })}`);
  });
}

/** Gives a generated function a readable form in fast-check's counterexample report. */
function described<F extends (...args: never[]) => unknown>(fn: F, text: string): F {
  return Object.assign(fn, { [fc.toStringMethod]: () => text });
}

export interface Injection {
  /** A copy of the pod with the container added. */
  readonly pod: Pod;
  /** JSON pointer of the added container. */
  readonly pointer: string;
}

/**
 * A container another mutating webhook adds after pod-hardener ran (a service-mesh proxy appended to
 * `containers`, a sidecar or an init container at either end of `initContainers`), with an optional
 * securityContext of its own.
 */
export function injectedContainerArb(name: string): fc.Arbitrary<(pod: Pod) => Injection> {
  return fc
    .record({
      position: fc.constantFrom('containers-end', 'init-end', 'init-start'),
      sidecar: fc.boolean(),
      security: containerSecurityArb,
    })
    .map(({ position, sidecar, security }) => {
      const inject = (pod: Pod): Injection => {
        const copy = structuredClone(pod);
        const spec = copy.spec!;
        const container: Container = { name, image: `registry.example/${name}:1` };
        const sc = securityContextFor(security, isWindowsPod(copy));
        if (sc !== undefined) container.securityContext = JSON.parse(JSON.stringify(sc)) as SecurityContext;
        if (position === 'containers-end') {
          spec.containers.push(container);
          return { pod: copy, pointer: `/spec/containers/${spec.containers.length - 1}` };
        }
        if (sidecar) (container as { restartPolicy?: string }).restartPolicy = 'Always';
        const init = (spec.initContainers ??= []);
        if (position === 'init-start') {
          init.unshift(container);
          return { pod: copy, pointer: '/spec/initContainers/0' };
        }
        init.push(container);
        return { pod: copy, pointer: `/spec/initContainers/${init.length - 1}` };
      };
      return described(inject, `inject ${name} ${JSON.stringify({ position, sidecar, security })}`);
    });
}
