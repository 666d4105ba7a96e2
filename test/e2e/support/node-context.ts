/**
 * The node suite's one control plane, node and in-cluster webhook, started once by
 * test/e2e/node/setup.ts and shared by the node scenarios (each works in namespaces of its own).
 */
import type { Cluster } from './cluster.js';
import type { ControlPlane } from './control-plane.js';
import type { Node } from './node.js';

export interface NodeContext {
  readonly repoRoot: string;
  readonly binDir: string;
  readonly controlPlane: ControlPlane;
  readonly cluster: Cluster;
  readonly node: Node;
}

let current: NodeContext | undefined;

export function setNodeContext(context: NodeContext | undefined): void {
  current = context;
}

export function onNode(): NodeContext {
  if (current === undefined) throw new Error('the e2e node is not running (see test/e2e/node/setup.ts)');
  return current;
}
