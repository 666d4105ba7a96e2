/**
 * `make cluster`: the node suite's cluster, left running for people who want to try the webhook
 * locally (like kind, but offline): etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
 * containerd and a kubelet, with the webhook deployed from the shipped manifests (local image). Its
 * processes are recorded in DIR/pids; `make cluster-down` (test/e2e/node/cluster.sh down) stops them
 * by PID and undoes the host changes. DIR is $POD_HARDENER_CLUSTER_DIR or /tmp/pod-hardener-cluster.
 * Run as root: `npx tsx test/e2e/node/cluster.ts` (the Makefile builds dist/ first).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { builtDirectory, CONTAINERD_BUILD, CONTROL_PLANE_BUILD } from '../support/builds.js';
import { connect, createNamespace, OPTED_IN, waitForControllers } from '../support/cluster.js';
import { startControlPlane } from '../support/control-plane.js';
import { deployWebhook } from '../support/in-cluster.js';
import { BUSYBOX_IMAGE, prepareHost, startNode } from '../support/node.js';
import { NODE_IP } from '../support/pki.js';
import { detachChildren, freePort, recordPidsIn } from '../support/processes.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const dir = process.env.POD_HARDENER_CLUSTER_DIR ?? '/tmp/pod-hardener-cluster';

async function main(): Promise<void> {
  const started = Date.now();
  if (existsSync(path.join(dir, 'pids'))) {
    process.stderr.write(`make cluster: ${dir} holds a cluster; stopping it first (make cluster-down)\n`);
    execFileSync('bash', [path.join(repoRoot, 'test/e2e/node/cluster.sh'), 'down'], { stdio: 'inherit' });
  }
  const binDir = builtDirectory(repoRoot, CONTROL_PLANE_BUILD);
  const containerdBinDir = builtDirectory(repoRoot, CONTAINERD_BUILD);
  mkdirSync(dir, { recursive: true });
  recordPidsIn(path.join(dir, 'pids'));
  detachChildren();
  const log = (line: string) =>
    process.stderr.write(`make cluster: ${line} (${Math.round((Date.now() - started) / 1000)} s)\n`);
  const apiPort = await freePort();
  await prepareHost(repoRoot, dir, apiPort);
  log('host prepared');
  const controlPlane = await startControlPlane(binDir, dir, { nodeIp: NODE_IP, apiPort });
  const cluster = connect(binDir, controlPlane.adminKubeconfig);
  await waitForControllers(cluster);
  log('control plane up');
  await startNode({ repoRoot, k8sBinDir: binDir, containerdBinDir, dir, controlPlane, cluster });
  log('node Ready');
  const demo = await createNamespace(cluster, 'demo', { labels: { ...OPTED_IN } });
  await deployWebhook(cluster, repoRoot, demo);
  log('webhook deployed');
  writeFileSync(
    path.join(dir, 'env'),
    `export KUBECONFIG=${controlPlane.adminKubeconfig}\nexport PATH=${binDir}:$PATH\n`,
  );
  process.stdout.write(`
The cluster is running (one node, the webhook in pod-hardener-system). To use it:

export KUBECONFIG=${controlPlane.adminKubeconfig}
export PATH=${binDir}:$PATH

kubectl get nodes,pods -A
kubectl run -n ${demo} try --image=${BUSYBOX_IMAGE} --image-pull-policy=IfNotPresent -- sleep 3600
kubectl exec -n ${demo} try -- id -u        # 65532: the namespace ${demo} is opted in

Logs are in ${dir}. Stop everything with: make cluster-down
`);
  process.exit(0);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `make cluster failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.stderr.write('run make cluster-down to clean up\n');
  process.exit(1);
});
