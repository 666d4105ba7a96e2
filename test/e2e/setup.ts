/**
 * Root hooks of the end-to-end suite: build (or reuse) the control plane binaries, start etcd,
 * kube-apiserver and kube-controller-manager on loopback in a temporary directory, install the
 * webhook from manifests/, and tear all of it down afterwards, also when a scenario failed.
 * E2E_KEEP=1 keeps the directory (logs, audit log, kubeconfigs) for a post-mortem.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { builtDirectory, CONTROL_PLANE_BUILD } from './support/builds.js';
import { connect, waitForControllers } from './support/cluster.js';
import { setContext, e2e } from './support/context.js';
import { startControlPlane, type ControlPlane } from './support/control-plane.js';
import { recordPidsIn, removeOnInterrupt } from './support/processes.js';
import { installWebhook } from './support/webhook.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let dir: string | undefined;
let controlPlane: ControlPlane | undefined;

export const mochaHooks = {
  async beforeAll(this: Mocha.Context): Promise<void> {
    this.timeout(45 * 60_000);
    const binDir = builtDirectory(repoRoot, CONTROL_PLANE_BUILD, 'E2E_BIN_DIR');
    dir = mkdtempSync(path.join(os.tmpdir(), 'pod-hardener-e2e-'));
    recordPidsIn(process.env.E2E_PID_FILE ?? path.join(dir, 'pids'));
    if (process.env.E2E_KEEP !== '1') removeOnInterrupt(dir);
    process.stderr.write(`e2e: run directory ${dir}\n`);
    const started = Date.now();
    controlPlane = await startControlPlane(binDir, dir);
    const cluster = connect(binDir, controlPlane.adminKubeconfig);
    await waitForControllers(cluster);
    const webhook = await installWebhook(cluster, controlPlane, {
      repoRoot,
      // Short enough that the suite runs across serving-certificate and CA rotations (install.e2e.ts):
      // the serving certificate is renewed every 40 s, the CA after 100 s.
      configOverrides: {
        tlsServingCertValiditySeconds: 60,
        tlsCaValiditySeconds: 150,
        tlsReloadIntervalSeconds: 5,
      },
    });
    setContext({ repoRoot, binDir, controlPlane, cluster, webhook });
    process.stderr.write(`e2e: control plane and webhook up in ${Date.now() - started} ms\n`);
  },
  async afterAll(this: Mocha.Context): Promise<void> {
    this.timeout(60_000);
    try {
      await e2e().webhook.stop();
    } catch {
      // never started
    }
    setContext(undefined);
    await controlPlane?.stop();
    if (dir !== undefined) {
      if (process.env.E2E_KEEP === '1') process.stderr.write(`e2e: kept ${dir}\n`);
      else rmSync(dir, { recursive: true, force: true });
      removeOnInterrupt(undefined);
    }
  },
};
