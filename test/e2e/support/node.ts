/**
 * One real node for the node scenarios and `make cluster`: containerd 2.x (test/e2e/containerd) with
 * runc and the CNI bridge/host-local/portmap plugins from Debian, and a kubelet v1.36 built with the
 * control plane, registered as NODE_NAME with NODE_IP (a /32 on lo). Host-global settings are made
 * and undone by test/e2e/node/host.sh; images are assembled offline by test/e2e/node/images.sh and
 * imported with ctr. Every process is stopped by PID.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Cluster } from './cluster.js';
import type { ControlPlane } from './control-plane.js';
import { kubeconfigYaml } from './control-plane.js';
import { NODE_IP, NODE_NAME } from './pki.js';
import { startProcess, waitFor, type ManagedProcess } from './processes.js';

const run = promisify(execFile);

export const POD_CIDR = '10.244.0.0/24';
export const BUSYBOX_IMAGE = 'localhost/e2e/busybox:latest';
export const PAUSE_IMAGE = 'localhost/e2e/pause:latest';
export const WEBHOOK_IMAGE = 'localhost/pod-hardener:e2e';

export interface Node {
  readonly name: string;
  readonly containerdSocket: string;
  /** ctr in the CRI's namespace. */
  ctr(args: readonly string[]): Promise<string>;
  stop(): Promise<void>;
}

export interface NodeOptions {
  readonly repoRoot: string;
  readonly k8sBinDir: string;
  readonly containerdBinDir: string;
  readonly dir: string;
  readonly controlPlane: ControlPlane;
  readonly cluster: Cluster;
}

export function hostScript(repoRoot: string): string {
  return path.join(repoRoot, 'test/e2e/node/host.sh');
}

/** host.sh install and host.sh up: before the control plane, which serves on NODE_IP. */
export async function prepareHost(repoRoot: string, dir: string, apiPort: number): Promise<void> {
  await run('bash', [hostScript(repoRoot), 'install'], { maxBuffer: 1 << 24 });
  await run('bash', [hostScript(repoRoot), 'down', dir], { maxBuffer: 1 << 24 });
  await run('bash', [hostScript(repoRoot), 'up', String(apiPort), dir], { maxBuffer: 1 << 24 });
}

export async function teardownHost(repoRoot: string, dir: string): Promise<void> {
  await run('bash', [hostScript(repoRoot), 'down', dir], { maxBuffer: 1 << 24 });
}

function containerdConfig(dir: string, cniDir: string): string {
  return `version = 3
root = "${dir}/root"
state = "${dir}/state"
[grpc]
  address = "${dir}/containerd.sock"
[ttrpc]
  address = "${dir}/containerd.sock.ttrpc"
[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "${PAUSE_IMAGE}"
  # Every registry resolves to a closed loopback port: a pull can never leave the machine.
  [plugins.'io.containerd.cri.v1.images'.registry]
    config_path = "${dir}/certs.d"
[plugins.'io.containerd.cri.v1.runtime']
  # The root shell here lacks CAP_SYS_RESOURCE: a sandbox asking for oom_score_adj -998 fails otherwise.
  restrict_oom_score_adj = true
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["/usr/lib/cni"]
    conf_dir = "${cniDir}/net.d"
`;
}

function cniConfig(cniDir: string): string {
  return JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: 'pod-hardener-e2e',
      plugins: [
        {
          type: 'bridge',
          bridge: 'phe2e0',
          isGateway: true,
          // Nothing is masqueraded: pods reach each other and this host only (host.sh guards FORWARD).
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            ranges: [[{ subnet: POD_CIDR }]],
            routes: [{ dst: '0.0.0.0/0' }],
            dataDir: path.join(cniDir, 'ipam'),
          },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  );
}

function kubeletConfig(options: {
  socket: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  podLogsDir: string;
  resolvConf: string;
}): string {
  return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# cgroup v1 is deprecated but still supported in 1.36; these machines have nothing else.
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://${options.socket}
address: ${NODE_IP}
port: 10250
readOnlyPort: 0
healthzPort: 0
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: ${options.caFile} }
authorization:
  mode: Webhook
tlsCertFile: ${options.certFile}
tlsPrivateKeyFile: ${options.keyFile}
podLogsDir: ${options.podLogsDir}
resolvConf: ${options.resolvConf}
serializeImagePulls: false
# A test machine's disk may be fuller than a production node's; do not evict the suite's pods.
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
`;
}

export async function startNode(options: NodeOptions): Promise<Node> {
  const dir = options.dir;
  const containerdDir = path.join(dir, 'containerd');
  const cniDir = path.join(dir, 'cni');
  const kubeletDir = path.join(dir, 'kubelet');
  for (const sub of [
    containerdDir,
    path.join(containerdDir, 'certs.d/_default'),
    path.join(cniDir, 'net.d'),
    kubeletDir,
    path.join(dir, 'pod-logs'),
  ]) {
    mkdirSync(sub, { recursive: true });
  }
  writeFileSync(path.join(containerdDir, 'certs.d/_default/hosts.toml'), 'server = "https://127.0.0.1:1"\n');
  writeFileSync(path.join(containerdDir, 'config.toml'), containerdConfig(containerdDir, cniDir));
  writeFileSync(path.join(cniDir, 'net.d/10-pod-hardener-e2e.conflist'), cniConfig(cniDir));
  const socket = path.join(containerdDir, 'containerd.sock');
  const started: ManagedProcess[] = [];
  const ctrBinary = path.join(options.containerdBinDir, 'ctr');
  const ctr = async (args: readonly string[]): Promise<string> =>
    (await run(ctrBinary, ['-a', socket, '-n', 'k8s.io', ...args], { maxBuffer: 1 << 26 })).stdout;
  const stop = async (): Promise<void> => {
    for (const child of started.reverse()) await child.stop('SIGTERM', 15_000);
  };

  try {
    const containerd = startProcess(
      'containerd',
      path.join(options.containerdBinDir, 'containerd'),
      ['--config', path.join(containerdDir, 'config.toml')],
      {
        dir,
        env: {
          ...process.env,
          // The shim is found on containerd's PATH; runc and the CNI plugins are Debian's.
          PATH: `${options.containerdBinDir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
        },
      },
    );
    started.push(containerd);
    await waitFor('containerd', async () => (existsSync(socket) ? await ctr(['version']) : undefined), {
      timeoutMs: 30_000,
      process: containerd,
    });

    const imagesDir = path.join(dir, 'images');
    const { stdout } = await run(
      'bash',
      [
        path.join(options.repoRoot, 'test/e2e/node/images.sh'),
        imagesDir,
        path.join(options.containerdBinDir, 'pause'),
        options.repoRoot,
      ],
      { maxBuffer: 1 << 24 },
    );
    const workloads = await run(
      'bash',
      [path.join(options.repoRoot, 'test/e2e/node/workloads.sh'), imagesDir],
      {
        maxBuffer: 1 << 24,
      },
    );
    const tarballs = [...stdout.split('\n'), ...workloads.stdout.split('\n')].filter((line) => line !== '');
    for (const tarball of tarballs) await ctr(['images', 'import', tarball]);
    // The real workloads again under a tag no image profile names (examples/image-profiles.yaml
    // names :latest only): the same bytes, to show what they do without their profile.
    for (const workload of ['nginx', 'redis', 'postgresql'])
      await ctr([
        'images',
        'tag',
        `localhost/e2e/${workload}:latest`,
        `localhost/e2e/${workload}:unprofiled`,
      ]);

    const pki = options.controlPlane.pki;
    const file = (name: string, content: string): string => {
      const target = path.join(kubeletDir, name);
      writeFileSync(target, content, { mode: 0o600 });
      return target;
    };
    const caFile = file('ca.crt', pki.ca.certPem);
    const kubeletConfigFile = file(
      'config.yaml',
      kubeletConfig({
        socket,
        caFile,
        certFile: file('kubelet.crt', pki.kubeletServing.certPem),
        keyFile: file('kubelet.key', pki.kubeletServing.keyPem),
        podLogsDir: path.join(dir, 'pod-logs'),
        // Pods get no resolver that could send a query off the machine.
        resolvConf: file('resolv.conf', 'nameserver 127.0.0.1\noptions ndots:1\n'),
      }),
    );
    const kubeconfig = file(
      'kubelet.kubeconfig',
      kubeconfigYaml(options.controlPlane.server, pki.ca.certPem, pki.node),
    );
    const kubelet = startProcess(
      'kubelet',
      path.join(options.k8sBinDir, 'kubelet'),
      [
        `--config=${kubeletConfigFile}`,
        `--kubeconfig=${kubeconfig}`,
        `--root-dir=${path.join(kubeletDir, 'root')}`,
        `--hostname-override=${NODE_NAME}`,
        `--node-ip=${NODE_IP}`,
        '--v=1',
      ],
      { dir },
    );
    started.push(kubelet);
    await waitFor(
      `node ${NODE_NAME} Ready`,
      async () => {
        const node = await options.cluster.core.readNode({ name: NODE_NAME });
        return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')
          ? true
          : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 500, process: kubelet },
    );
    return { name: NODE_NAME, containerdSocket: socket, ctr, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
