/**
 * The AdmissionReviews the benchmark sends, generated rather than stored: a bare one-container pod, a
 * typical Deployment pod (3 containers, about 6 KB), the same pod with 100 containers, and a pod close
 * to 1 MiB. Everything is deterministic, so two runs send byte-identical bodies.
 */
import type { AdmissionReview } from '../src/engine/review/envelope.js';
import { admissionReview } from '../test/support/admission-review.js';
import type { Container, Pod } from '../src/engine/pod/model.js';

export const MIB = 1024 * 1024;
/** The near-1-MiB review is filled up to this many bytes of JSON: close to, and under, 1 MiB. */
export const NEAR_1MIB_TARGET_BYTES = MIB - 8 * 1024;
/**
 * The API server refuses more than 256 KiB of annotations in total, so the large pod's bulk is in env
 * values, as a pod generated from a big .env file would be.
 */
const LAST_APPLIED_BYTES = 160 * 1024;
const NAMESPACE = 'team-a';
/** Replaced by a fresh uid in every request the benchmark sends. */
export const UID_PLACEHOLDER = '@@bench-uid@@';

export const CORPUS_IDS = ['small', 'typical', 'containers-100', 'near-1mib'] as const;
export type CorpusId = (typeof CORPUS_IDS)[number];

export interface CorpusEntry {
  readonly id: CorpusId;
  readonly description: string;
  /** Containers the webhook hardens (init containers included). */
  readonly containers: number;
  /** request.uid is UID_PLACEHOLDER. */
  readonly review: AdmissionReview;
  /** Whether the webhook must answer with a JSON Patch (every pod here lacks the hardening defaults). */
  readonly expectPatch: boolean;
}

/** A small deterministic generator (mulberry32), so "random" payloads are the same in every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function randomText(next: () => number, length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) s += ALPHABET[Math.floor(next() * ALPHABET.length)] ?? 'A';
  return s;
}

const APP = 'checkout';
const POD_TEMPLATE_HASH = '7d4b9c8f6d';
const KUBE_API_ACCESS = 'kube-api-access-x7k2p';

function labels(): Record<string, string> {
  return {
    app: APP,
    'app.kubernetes.io/name': APP,
    'app.kubernetes.io/instance': `${APP}-prod`,
    'app.kubernetes.io/version': '2.14.3',
    'app.kubernetes.io/component': 'api',
    'app.kubernetes.io/part-of': 'storefront',
    'app.kubernetes.io/managed-by': 'Helm',
    'helm.sh/chart': `${APP}-2.14.3`,
    'pod-template-hash': POD_TEMPLATE_HASH,
  };
}

function mounts(extra: Container['volumeMounts'] = []): NonNullable<Container['volumeMounts']> {
  return [
    ...extra,
    { name: KUBE_API_ACCESS, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true },
  ];
}

/** The application container: ports, env from literals, fields and secrets, three probes, resources. */
function appContainer(name: string): Container {
  return {
    name,
    image: `registry.example.com/storefront/${APP}:2.14.3@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08`,
    imagePullPolicy: 'IfNotPresent',
    args: ['--config=/etc/checkout/config.yaml', '--listen=:8080', '--admin-listen=:9090'],
    ports: [
      { name: 'http', containerPort: 8080, protocol: 'TCP' },
      { name: 'admin', containerPort: 9090, protocol: 'TCP' },
    ],
    env: [
      { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
      {
        name: 'POD_NAMESPACE',
        valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } },
      },
      { name: 'NODE_IP', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'status.hostIP' } } },
      { name: 'LOG_FORMAT', value: 'json' },
      { name: 'LOG_LEVEL', value: 'info' },
      { name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: 'http://otel-collector.observability:4317' },
      { name: 'OTEL_SERVICE_NAME', value: APP },
      {
        name: 'DATABASE_URL',
        valueFrom: { secretKeyRef: { name: `${APP}-db`, key: 'url', optional: false } },
      },
      {
        name: 'GOMEMLIMIT',
        valueFrom: {
          resourceFieldRef: { containerName: name, resource: 'limits.memory', divisor: '1' },
        },
      },
    ],
    envFrom: [{ configMapRef: { name: `${APP}-env` } }],
    resources: {
      requests: { cpu: '250m', memory: '256Mi' },
      limits: { cpu: '1', memory: '512Mi' },
    },
    startupProbe: {
      httpGet: { path: '/healthz', port: 'admin', scheme: 'HTTP' },
      periodSeconds: 2,
      failureThreshold: 30,
      timeoutSeconds: 1,
      successThreshold: 1,
    },
    livenessProbe: {
      httpGet: { path: '/healthz', port: 'admin', scheme: 'HTTP' },
      periodSeconds: 10,
      failureThreshold: 3,
      timeoutSeconds: 2,
      successThreshold: 1,
    },
    readinessProbe: {
      httpGet: { path: '/readyz', port: 'admin', scheme: 'HTTP' },
      periodSeconds: 5,
      failureThreshold: 2,
      timeoutSeconds: 2,
      successThreshold: 1,
    },
    volumeMounts: mounts([
      { name: 'config', mountPath: '/etc/checkout', readOnly: true },
      { name: 'tls', mountPath: '/etc/tls', readOnly: true },
    ]),
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
  };
}

/** An Envoy-style proxy sidecar that already sets part of its securityContext. */
function proxyContainer(name: string): Container {
  return {
    name,
    image: 'docker.io/envoyproxy/envoy:v1.31.2',
    imagePullPolicy: 'IfNotPresent',
    args: ['-c', '/etc/envoy/envoy.yaml', '--log-level', 'warn', '--drain-time-s', '20'],
    ports: [{ name: 'https', containerPort: 8443, protocol: 'TCP' }],
    resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { memory: '256Mi' } },
    readinessProbe: {
      tcpSocket: { port: 8443 },
      periodSeconds: 5,
      failureThreshold: 3,
      timeoutSeconds: 1,
      successThreshold: 1,
    },
    lifecycle: { preStop: { exec: { command: ['/bin/sleep', '15'] } } },
    securityContext: { runAsUser: 101, allowPrivilegeEscalation: false },
    volumeMounts: mounts([
      { name: 'envoy-config', mountPath: '/etc/envoy', readOnly: true },
      { name: 'tls', mountPath: '/etc/tls', readOnly: true },
    ]),
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
  };
}

/** A log shipper without resources or securityContext, as sidecars often come. */
function logShipperContainer(name: string): Container {
  return {
    name,
    image: 'cr.fluentbit.io/fluent/fluent-bit:3.1.9',
    imagePullPolicy: 'IfNotPresent',
    env: [
      { name: 'FLUENT_ELASTICSEARCH_HOST', value: 'logs.observability.svc' },
      { name: 'FLUENT_ELASTICSEARCH_PORT', value: '9200' },
    ],
    volumeMounts: mounts([{ name: 'logs', mountPath: '/var/log/app', readOnly: true }]),
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
  };
}

const ROLES = [appContainer, proxyContainer, logShipperContainer] as const;

function container(index: number): Container {
  const role = ROLES[index % ROLES.length] ?? appContainer;
  const base = ['app', 'proxy', 'log-shipper'][index % ROLES.length] ?? 'app';
  return role(index < ROLES.length ? base : `${base}-${Math.floor(index / ROLES.length)}`);
}

/**
 * A pod as a ReplicaSet creates it and admission sees it: generateName, owner reference, the service
 * account token volume and default tolerations already added. Its containers cycle through an app, a
 * proxy sidecar and a log shipper; three containers is the typical pod.
 */
export function deploymentPod(containers: number): Pod {
  if (!Number.isInteger(containers) || containers < 1) throw new Error('containers must be 1 or more');
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: `${APP}-${POD_TEMPLATE_HASH}-`,
      namespace: NAMESPACE,
      labels: labels(),
      annotations: {
        'checksum/config': '3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555',
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': '9090',
        'kubectl.kubernetes.io/default-container': 'app',
      },
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: `${APP}-${POD_TEMPLATE_HASH}`,
          uid: '5f0c3a5e-8a31-4f1d-9a77-1c2b3d4e5f60',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      containers: Array.from({ length: containers }, (_, i) => container(i)),
      volumes: [
        { name: 'config', configMap: { name: `${APP}-config`, defaultMode: 420 } },
        { name: 'envoy-config', configMap: { name: `${APP}-envoy`, defaultMode: 420 } },
        { name: 'tls', secret: { secretName: `${APP}-tls`, defaultMode: 420 } },
        { name: 'logs', emptyDir: {} },
        {
          name: KUBE_API_ACCESS,
          projected: {
            defaultMode: 420,
            sources: [
              { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
              { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
              {
                downwardAPI: {
                  items: [
                    { path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } },
                  ],
                },
              },
            ],
          },
        },
      ],
      serviceAccountName: APP,
      serviceAccount: APP,
      automountServiceAccountToken: true,
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      enableServiceLinks: false,
      schedulerName: 'default-scheduler',
      priority: 0,
      preemptionPolicy: 'PreemptLowerPriority',
      imagePullSecrets: [{ name: 'registry-credentials' }],
      nodeSelector: { 'kubernetes.io/os': 'linux' },
      affinity: {
        podAntiAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            {
              weight: 100,
              podAffinityTerm: {
                topologyKey: 'kubernetes.io/hostname',
                labelSelector: { matchLabels: { 'app.kubernetes.io/name': APP } },
              },
            },
          ],
        },
      },
      topologySpreadConstraints: [
        {
          maxSkew: 1,
          topologyKey: 'topology.kubernetes.io/zone',
          whenUnsatisfiable: 'ScheduleAnyway',
          labelSelector: { matchLabels: { 'app.kubernetes.io/name': APP } },
        },
      ],
      tolerations: [
        {
          key: 'node.kubernetes.io/not-ready',
          operator: 'Exists',
          effect: 'NoExecute',
          tolerationSeconds: 300,
        },
        {
          key: 'node.kubernetes.io/unreachable',
          operator: 'Exists',
          effect: 'NoExecute',
          tolerationSeconds: 300,
        },
      ],
    },
  };
}

/** A bare one-container pod, like `kubectl run nginx --image=nginx`. */
export function smallPod(): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'nginx', namespace: NAMESPACE, labels: { run: 'nginx' } },
    spec: {
      containers: [
        {
          name: 'nginx',
          image: 'nginx:1.27',
          imagePullPolicy: 'IfNotPresent',
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
        },
      ],
      restartPolicy: 'Always',
      dnsPolicy: 'ClusterFirst',
      schedulerName: 'default-scheduler',
    },
  };
}

/**
 * A CREATE review of `pod` as the API server sends it to a mutating webhook when the ReplicaSet
 * controller creates a Deployment's pod: the shared builder with every field such a request carries.
 */
export function controllerCreateReview(pod: Pod, uid: string = UID_PLACEHOLDER): AdmissionReview {
  return admissionReview(pod, {
    uid,
    name: pod.metadata?.name ?? '',
    namespace: pod.metadata?.namespace ?? NAMESPACE,
    userInfo: {
      username: 'system:serviceaccount:kube-system:replicaset-controller',
      uid: '0b4d3c2a-7e6f-4a59-8b1c-2d3e4f5a6b7c',
      groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'],
    },
    oldObject: null,
    dryRun: false,
    options: { kind: 'CreateOptions', apiVersion: 'meta.k8s.io/v1' },
  });
}

/** Bytes of the review's JSON, as sent. */
export function reviewBytes(review: AdmissionReview): number {
  return Buffer.byteLength(JSON.stringify(review));
}

/**
 * One application container carrying a kubectl last-applied-configuration annotation and as many env
 * values as bring the whole review to NEAR_1MIB_TARGET_BYTES. Fixed-size entries make the fill exact.
 */
export function near1MiBReview(targetBytes: number = NEAR_1MIB_TARGET_BYTES): AdmissionReview {
  const next = prng(0x5eed);
  const pod = deploymentPod(1);
  const annotations = (pod.metadata ??= {}).annotations ?? {};
  annotations['kubectl.kubernetes.io/last-applied-configuration'] = randomText(next, LAST_APPLIED_BYTES);
  pod.metadata.annotations = annotations;
  const app = pod.spec?.containers[0];
  if (!app) throw new Error('unreachable: deploymentPod(1) has a container');
  const env = (app.env ??= []);
  const before = env.length;
  const entry = (i: number): { name: string; value: string } => ({
    name: `FEATURE_${String(i).padStart(6, '0')}`,
    value: randomText(next, 240),
  });
  env.push(entry(before));
  const review = controllerCreateReview(pod);
  const oneEntry = reviewBytes(review);
  env.push(entry(before + 1));
  const entryBytes = reviewBytes(review) - oneEntry;
  const count = Math.floor((targetBytes - oneEntry) / entryBytes);
  for (let i = 2; i <= count; i++) env.push(entry(before + i));
  return review;
}

/** The four reviews every server is driven with. */
export function buildCorpus(): CorpusEntry[] {
  return [
    {
      id: 'small',
      description: 'bare pod, 1 container',
      containers: 1,
      review: controllerCreateReview(smallPod()),
      expectPatch: true,
    },
    {
      id: 'typical',
      description: 'Deployment pod, 3 containers',
      containers: 3,
      review: controllerCreateReview(deploymentPod(3)),
      expectPatch: true,
    },
    {
      id: 'containers-100',
      description: 'Deployment pod, 100 containers',
      containers: 100,
      review: controllerCreateReview(deploymentPod(100)),
      expectPatch: true,
    },
    {
      id: 'near-1mib',
      description: 'pod with ~1 MiB of env and annotations',
      containers: 1,
      review: near1MiBReview(),
      expectPatch: true,
    },
  ];
}

/** The review's JSON split around its uid, so each request can carry its own uid without re-serialising. */
export interface BodyTemplate {
  readonly prefix: string;
  readonly suffix: string;
}

export function bodyTemplate(review: AdmissionReview): BodyTemplate {
  const text = JSON.stringify({ ...review, request: { ...review.request, uid: UID_PLACEHOLDER } });
  const quoted = JSON.stringify(UID_PLACEHOLDER);
  const at = text.indexOf(quoted);
  if (at < 0 || text.indexOf(quoted, at + 1) >= 0) throw new Error('the uid placeholder must occur once');
  return { prefix: text.slice(0, at + 1), suffix: text.slice(at + quoted.length - 1) };
}

/** A uid in the API server's format, unique per request number. */
export function requestUid(run: number, n: number): string {
  const hex = (v: number, width: number): string => v.toString(16).padStart(width, '0').slice(-width);
  return `${hex(run, 8)}-0000-4000-8000-${hex(n, 12)}`;
}
