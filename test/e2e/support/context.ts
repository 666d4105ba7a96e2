/**
 * The suite's one control plane and webhook, started once by test/e2e/setup.ts and shared by every
 * scenario file (each scenario works in namespaces of its own).
 */
import type { Cluster } from './cluster.js';
import type { ControlPlane } from './control-plane.js';
import type { WebhookUnderTest } from './webhook.js';

export interface E2eContext {
  readonly repoRoot: string;
  readonly binDir: string;
  readonly controlPlane: ControlPlane;
  readonly cluster: Cluster;
  readonly webhook: WebhookUnderTest;
}

let current: E2eContext | undefined;

export function setContext(context: E2eContext | undefined): void {
  current = context;
}

export function e2e(): E2eContext {
  if (current === undefined) throw new Error('the e2e control plane is not running (see test/e2e/setup.ts)');
  return current;
}
