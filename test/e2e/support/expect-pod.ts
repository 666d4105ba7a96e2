/**
 * Assertions on pods as the API server stored them. The API server defaults fields after admission,
 * so a recorded change is checked as "the stored value contains what we said we set".
 */
import { expect } from 'chai';
import type { V1Container, V1Pod } from '@kubernetes/client-node';

export const CHANGES_ANNOTATION = 'pod-hardener.io/changes';

export interface RecordedChange {
  readonly control: string;
  readonly target: string;
  readonly path: string;
  readonly value: unknown;
}

export function changesOf(pod: V1Pod): RecordedChange[] {
  const raw = pod.metadata?.annotations?.[CHANGES_ANNOTATION];
  if (raw === undefined) return [];
  return JSON.parse(raw) as RecordedChange[];
}

function valueAt(document: unknown, pointer: string): unknown {
  let current = document;
  for (const token of pointer.split('/').slice(1)) {
    const key = token.replaceAll('~1', '/').replaceAll('~0', '~');
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** `expected` is contained in `actual`: objects by key, arrays element by element in any position. */
export function contains(actual: unknown, expected: unknown): boolean {
  if (Array.isArray(expected)) {
    return (
      Array.isArray(actual) && expected.every((item) => actual.some((candidate) => contains(candidate, item)))
    );
  }
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return false;
    return Object.entries(expected).every(([key, value]) =>
      contains((actual as Record<string, unknown>)[key], value),
    );
  }
  return actual === expected;
}

/** Every recorded change is present in the stored pod at the recorded path. */
export function expectChangesStored(pod: V1Pod): void {
  const changes = changesOf(pod);
  expect(changes, 'the changes annotation').to.not.be.empty;
  // client-node returns typed models; the JSON form is what the pointers address.
  const stored = JSON.parse(JSON.stringify(pod)) as unknown;
  for (const change of changes) {
    expect(
      contains(valueAt(stored, change.path), change.value),
      `${change.path} holds ${JSON.stringify(change.value)}`,
    ).to.be.true;
  }
}

export function allContainers(pod: V1Pod): V1Container[] {
  return [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
}

/** Every field the six controls set on a pod that had none of them. */
export function expectFullyHardened(pod: V1Pod): void {
  const security = pod.spec?.securityContext;
  // On the containers, never the pod: a root container injected later must not inherit it.
  expect(security?.runAsNonRoot, 'pod-level runAsNonRoot').to.be.undefined;
  expect(security?.runAsUser, 'runAsUser').to.equal(65532);
  expect(security?.runAsGroup, 'runAsGroup').to.equal(65532);
  expect(security?.fsGroup, 'fsGroup').to.equal(65532);
  expect(security?.seccompProfile?.type, 'seccompProfile').to.equal('RuntimeDefault');
  const tmpVolumes = (pod.spec?.volumes ?? []).filter((volume) => volume.name.startsWith('pod-hardener-tmp'));
  expect(tmpVolumes, 'the /tmp emptyDir').to.have.length.greaterThan(0);
  for (const container of allContainers(pod)) {
    const context = container.securityContext;
    const where = `container ${container.name}`;
    expect(context?.runAsNonRoot, `${where} runAsNonRoot`).to.equal(true);
    expect(context?.allowPrivilegeEscalation, `${where} allowPrivilegeEscalation`).to.equal(false);
    expect(context?.capabilities?.drop, `${where} drops`).to.include('ALL');
    expect(context?.readOnlyRootFilesystem, `${where} readOnlyRootFilesystem`).to.equal(true);
    expect(
      (container.volumeMounts ?? []).some((mount) => mount.mountPath === '/tmp'),
      `${where} mounts /tmp`,
    ).to.be.true;
    expect(container.resources?.requests, `${where} requests`).to.include.keys('cpu', 'memory');
    expect(container.resources?.limits, `${where} limits`).to.include.keys('cpu', 'memory');
  }
  expectChangesStored(pod);
}

/** Nothing of ours: no annotation and none of the fields a user did not write. */
export function expectUntouched(pod: V1Pod): void {
  expect(pod.metadata?.annotations?.[CHANGES_ANNOTATION], 'changes annotation').to.be.undefined;
  expect(pod.spec?.securityContext?.runAsUser, 'runAsUser').to.be.undefined;
  expect(pod.spec?.securityContext?.seccompProfile, 'seccompProfile').to.be.undefined;
  expect((pod.spec?.volumes ?? []).map((volume) => volume.name)).to.not.include('pod-hardener-tmp');
  for (const container of allContainers(pod)) {
    expect(container.securityContext, `container ${container.name} securityContext`).to.be.undefined;
    expect(container.resources?.limits, `container ${container.name} limits`).to.be.undefined;
  }
}

let podCounter = 0;

/** A pod as a developer writes it: an image and a port, nothing about security. */
export function plainPod(name: string, extra: Partial<V1Pod['spec']> = {}): V1Pod {
  podCounter += 1;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `${name}-${podCounter}` },
    spec: {
      containers: [{ name: 'web', image: 'nginx:1.27', ports: [{ containerPort: 8080 }] }],
      ...extra,
    },
  };
}
