/**
 * `pod-hardener audit`: what the cluster's pods carry. For each stored pod, the changes record (the
 * `changes` annotation, counted by control), whether it is sealed (the seal's key is the serving
 * key's, so it cannot be verified here), the opt-outs, and what still violates Pod Security
 * "restricted". It also runs the webhook's engine on each stored pod, as `harden` would on a manifest,
 * to tell what hardening would still set: a pod that never went through the webhook (a namespace that
 * did not opt in, a pod older than the webhook) then shows what it lacks instead of an empty record.
 * No I/O: the pods come from a PodLister (src/audit/kube.ts in the CLI, a stub in tests).
 */
import {
  checkRestricted,
  claimsMirrorPod,
  DEFAULT_ENGINE_SETTINGS,
  keysFor,
  parseChangesRecord,
  visitContainers,
  type EngineSettings,
  type Pod,
  type Violation,
} from '../engine/index.js';
import { runEngine } from '../offline/engine.js';

/** A stored pod as the API returns it; only metadata and spec are read. */
export interface StoredPod {
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly annotations?: Readonly<Record<string, string>>;
    readonly ownerReferences?: readonly { readonly kind?: string }[];
  };
  readonly spec?: unknown;
}

/** Lists the pods of one namespace, or of all of them when `namespace` is undefined. */
export type PodLister = (namespace: string | undefined) => Promise<readonly StoredPod[]>;

export interface PodAudit {
  readonly namespace: string;
  readonly name: string;
  /** Field changes recorded, by control id. */
  readonly changes: Readonly<Record<string, number>>;
  readonly totalChanges: number;
  /** Entries the record says it had to leave out (`{"truncated": N}`). */
  readonly truncated: number;
  /** Controls an image profile kept off a container, as `container/control`. */
  readonly profileSkips: readonly string[];
  /** A `changes-seal` annotation is present. It is not verified: that needs the webhook's key. */
  readonly sealed: boolean;
  readonly sealVerified: false;
  /** The honoured opt-outs the webhook recorded (`opt-outs`). */
  readonly optOuts: readonly string[];
  /** The pod's own opt-out annotations, as written. */
  readonly skip?: string;
  readonly skipControls?: string;
  /** Pod Security "restricted" violations of the stored pod. */
  readonly violations: readonly Violation[];
  /**
   * Fields hardening would still set on the stored pod, by control (0 for a pod the webhook hardened
   * with today's settings); undefined when the engine could not read the pod, with the reason.
   */
  readonly pending?: Readonly<Record<string, number>>;
  readonly totalPending?: number;
  readonly pendingError?: string;
  /** Why the webhook would leave the pod alone (a mirror pod, a Windows hostProcess pod, over its caps). */
  readonly leftAlone?: string;
}

type Pending = Pick<PodAudit, 'pending' | 'totalPending' | 'pendingError' | 'leftAlone'>;

/** The stored pod as the engine reads it: its metadata and spec, nothing the server added besides. */
function podOf(stored: StoredPod): Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: stored.metadata, spec: stored.spec } as unknown as Pod;
}

/**
 * A kubelet's mirror of a static pod: the webhook skips those when a node creates them, and a stored
 * one that a Node owns was created by its kubelet (the review here has no node identity to show).
 */
function isMirrorPod(stored: StoredPod, pod: Pod): boolean {
  return (
    claimsMirrorPod(pod) && (stored.metadata?.ownerReferences ?? []).some((owner) => owner.kind === 'Node')
  );
}

/** What enforce mode would set on the stored pod now, honouring its opt-outs and the configuration. */
export async function pendingChanges(stored: StoredPod, settings: EngineSettings): Promise<Pending> {
  const pod = podOf(stored);
  if (isMirrorPod(stored, pod)) return { pending: {}, totalPending: 0, leftAlone: 'mirror-pod' };
  try {
    const result = await runEngine(pod, settings, 'enforce');
    if (result.outcome === 'skipped') return { pending: {}, totalPending: 0, leftAlone: result.skipReason };
    if (result.outcome === 'denied') {
      return { pending: {}, totalPending: 0, leftAlone: `refused: ${result.deniedMessage ?? ''}` };
    }
    const pending: Record<string, number> = {};
    for (const change of result.changes) pending[change.control] = (pending[change.control] ?? 0) + 1;
    return { pending, totalPending: result.changes.length };
  } catch (err) {
    return { pendingError: err instanceof Error ? err.message : String(err) };
  }
}

export function auditPod(stored: StoredPod, prefix = 'pod-hardener.io', pending: Pending = {}): PodAudit {
  const keys = keysFor(prefix);
  const annotations = stored.metadata?.annotations ?? {};
  const record = parseChangesRecord(annotations[keys.changes]);
  const changes: Record<string, number> = {};
  const profileSkips: string[] = [];
  let totalChanges = 0;
  for (const entry of record.entries) {
    if ('path' in entry) {
      changes[entry.control] = (changes[entry.control] ?? 0) + 1;
      totalChanges += 1;
    } else {
      profileSkips.push(`${entry.target}/${entry.control}`);
    }
  }
  const pod = podOf(stored);
  const optOuts = (annotations[keys.optOuts] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const skip = annotations[keys.skip];
  const skipControls = annotations[keys.skipControls];
  return {
    namespace: stored.metadata?.namespace ?? '',
    name: stored.metadata?.name ?? '',
    changes,
    totalChanges,
    truncated: record.truncated,
    profileSkips,
    sealed: annotations[keys.changesSeal] !== undefined,
    sealVerified: false,
    optOuts,
    ...(skip === undefined ? {} : { skip }),
    ...(skipControls === undefined ? {} : { skipControls }),
    violations: checkRestricted(pod, visitContainers(pod), true),
    ...pending,
  };
}

export async function auditCluster(
  list: PodLister,
  namespace: string | undefined,
  settings: EngineSettings = DEFAULT_ENGINE_SETTINGS,
): Promise<PodAudit[]> {
  const pods = await list(namespace);
  const audits: PodAudit[] = [];
  for (const pod of pods) {
    audits.push(auditPod(pod, settings.annotationPrefix, await pendingChanges(pod, settings)));
  }
  return audits.sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
}

/** Whether the pod opted out of `control` (recorded opt-outs, or its own skip annotations). */
export function optedOutOf(audit: PodAudit, control: string): string[] {
  const recorded = audit.optOuts.filter((o) => o === control || o.endsWith(`/${control}`));
  const asked = (audit.skipControls ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((o) => o === control || o.endsWith(`/${control}`));
  return [...new Set([...recorded, ...asked])];
}
