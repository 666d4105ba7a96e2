/**
 * Root hooks of the node suite: the host prepared (test/e2e/node/host.sh), the control plane served on
 * the node IP with kube-scheduler, containerd and a kubelet, the offline images imported, and the
 * webhook deployed in-cluster from the shipped manifests; everything torn down afterwards, also when a
 * scenario failed. test/e2e/run.sh also runs `host.sh down` when the suite itself was killed.
 * E2E_KEEP=1 keeps the directory (every process's log, the audit log, the kubeconfigs).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { builtDirectory, CONTAINERD_BUILD, CONTROL_PLANE_BUILD } from '../support/builds.js';
import { connect, createNamespace, OPTED_IN, waitForControllers } from '../support/cluster.js';
import { startControlPlane, type ControlPlane } from '../support/control-plane.js';
import { deployWebhook } from '../support/in-cluster.js';
import { startNode, prepareHost, teardownHost, type Node } from '../support/node.js';
import { setNodeContext } from '../support/node-context.js';
import { NODE_IP } from '../support/pki.js';
import { freePort, recordPidsIn } from '../support/processes.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
let dir: string | undefined;
let controlPlane: ControlPlane | undefined;
let node: Node | undefined;

export const mochaHooks = {
  async beforeAll(this: Mocha.Context): Promise<void> {
    this.timeout(45 * 60_000);
    const binDir = builtDirectory(repoRoot, CONTROL_PLANE_BUILD, 'E2E_BIN_DIR');
    const containerdBinDir = builtDirectory(repoRoot, CONTAINERD_BUILD, 'E2E_CONTAINERD_BIN_DIR');
    const fromEnv = process.env.E2E_NODE_DIR;
    if (fromEnv !== undefined && fromEnv !== '') {
      dir = fromEnv;
      mkdirSync(dir, { recursive: true });
    } else {
      dir = mkdtempSync('/tmp/pod-hardener-node-');
    }
    recordPidsIn(process.env.E2E_PID_FILE ?? path.join(dir, 'pids'));
    process.stderr.write(`e2e node: run directory ${dir}\n`);
    const started = Date.now();
    const apiPort = await freePort();
    await prepareHost(repoRoot, dir, apiPort);
    controlPlane = await startControlPlane(binDir, dir, { nodeIp: NODE_IP, apiPort });
    const cluster = connect(binDir, controlPlane.adminKubeconfig);
    await waitForControllers(cluster);
    process.stderr.write(`e2e node: control plane up in ${Date.now() - started} ms\n`);
    node = await startNode({ repoRoot, k8sBinDir: binDir, containerdBinDir, dir, controlPlane, cluster });
    process.stderr.write(`e2e node: node Ready after ${Date.now() - started} ms\n`);
    const probeNamespace = await createNamespace(cluster, 'probe', { labels: { ...OPTED_IN } });
    await deployWebhook(cluster, repoRoot, probeNamespace);
    setNodeContext({ repoRoot, binDir, controlPlane, cluster, node });
    process.stderr.write(`e2e node: webhook serving in-cluster after ${Date.now() - started} ms\n`);
  },
  async afterAll(this: Mocha.Context): Promise<void> {
    this.timeout(120_000);
    setNodeContext(undefined);
    await node?.stop();
    if (dir !== undefined) await teardownHost(repoRoot, dir);
    await controlPlane?.stop();
    if (dir !== undefined) {
      if (process.env.E2E_KEEP === '1') process.stderr.write(`e2e node: kept ${dir}\n`);
      else rmSync(dir, { recursive: true, force: true });
    }
  },
};
