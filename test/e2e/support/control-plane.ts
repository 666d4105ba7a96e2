/**
 * A real, minimal control plane on loopback: etcd, kube-apiserver and kube-controller-manager, built
 * by test/e2e/k8s/build.sh. For the admission scenarios there is no scheduler and no kubelet: pods are
 * admitted and stored, which is everything an admission webhook can be judged on, and nothing runs.
 * With `nodeIp` (the node scenarios, test/e2e/node) kube-scheduler runs too, and test/e2e/node's
 * kubelet registers against it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { createControlPlanePki, type ControlPlanePki, type Issued } from './pki.js';
import { freePort, startProcess, waitFor, type ManagedProcess } from './processes.js';

export interface ControlPlane {
  readonly server: string;
  readonly adminKubeconfig: string;
  readonly auditLog: string;
  readonly pki: ControlPlanePki;
  readonly dir: string;
  stop(): Promise<void>;
}

// Metadata is the level at which the API server records a webhook's audit annotations and its
// mutation record; pods are all the suite needs to read.
const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    resources:
      - group: ""
        resources: ["pods", "pods/ephemeralcontainers"]
  - level: None
`;

export function kubeconfigYaml(
  server: string,
  caPem: string,
  user: Issued | { readonly token: string },
): string {
  const credentials =
    'token' in user
      ? `      token: ${user.token}`
      : [
          `      client-certificate-data: ${Buffer.from(user.certPem).toString('base64')}`,
          `      client-key-data: ${Buffer.from(user.keyPem).toString('base64')}`,
        ].join('\n');
  return `apiVersion: v1
kind: Config
clusters:
  - name: e2e
    cluster:
      server: ${server}
      certificate-authority-data: ${Buffer.from(caPem).toString('base64')}
users:
  - name: e2e
    user:
${credentials}
contexts:
  - name: e2e
    context: { cluster: e2e, user: e2e }
current-context: e2e
`;
}

function getReadyz(server: string, pki: ControlPlanePki): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const request = https.get(
      `${server}/readyz`,
      { ca: pki.ca.certPem, cert: pki.admin.certPem, key: pki.admin.keyPem, timeout: 2000 },
      (response) => {
        response.resume();
        response.on('end', () => {
          resolve(response.statusCode === 200 ? 'ready' : undefined);
        });
      },
    );
    request.on('timeout', () => request.destroy(new Error('readyz timed out')));
    request.on('error', reject);
  });
}

export interface ControlPlaneOptions {
  /**
   * Serve on the e2e node's IP instead of 127.0.0.1, so pods reach the API server through the
   * kubernetes Service (test/e2e/node/host.sh DNATs its ClusterIP here), with what a kubelet needs:
   * the Node authorizer and NodeRestriction, a client certificate for logs and exec, and aggregator
   * routing, so webhooks behind a Service are dialled at an endpoint's pod IP (no kube-proxy).
   */
  readonly nodeIp?: string;
  /** The API server's port; one is picked free when absent. */
  readonly apiPort?: number;
}

export async function startControlPlane(
  binDir: string,
  dir: string,
  options: ControlPlaneOptions = {},
): Promise<ControlPlane> {
  const pkiDir = path.join(dir, 'pki');
  mkdirSync(pkiDir, { recursive: true });
  const pki = await createControlPlanePki();
  const file = (name: string, content: string): string => {
    const target = path.join(pkiDir, name);
    writeFileSync(target, content, { mode: 0o600 });
    return target;
  };
  const caFile = file('ca.crt', pki.ca.certPem);
  const [etcdClientPort, etcdPeerPort, apiPort, controllerManagerPort] = await Promise.all([
    freePort(),
    freePort(),
    options.apiPort ?? freePort(),
    freePort(),
  ]);
  const apiAddress = options.nodeIp ?? '127.0.0.1';
  const server = `https://${apiAddress}:${apiPort}`;
  const adminKubeconfig = file('admin.kubeconfig', kubeconfigYaml(server, pki.ca.certPem, pki.admin));
  const controllerManagerKubeconfig = file(
    'controller-manager.kubeconfig',
    kubeconfigYaml(server, pki.ca.certPem, pki.controllerManager),
  );
  const auditLog = path.join(dir, 'audit.log');
  const auditPolicy = file('audit-policy.yaml', AUDIT_POLICY);
  const started: ManagedProcess[] = [];
  const stop = async (): Promise<void> => {
    for (const child of started.reverse()) await child.stop();
  };

  try {
    const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
    const peerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    const etcd = startProcess(
      'etcd',
      path.join(binDir, 'etcd'),
      [
        `--data-dir=${path.join(dir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=default=${peerUrl}`,
        // Throwaway data: skipping fsync makes every write several times faster on shared disks.
        '--unsafe-no-fsync',
        '--log-level=warn',
      ],
      { dir },
    );
    started.push(etcd);

    const apiServer = startProcess(
      'kube-apiserver',
      path.join(binDir, 'kube-apiserver'),
      [
        `--etcd-servers=${etcdUrl}`,
        `--bind-address=${apiAddress}`,
        `--advertise-address=${apiAddress}`,
        `--secure-port=${apiPort}`,
        `--tls-cert-file=${file('apiserver.crt', pki.apiServer.certPem)}`,
        `--tls-private-key-file=${file('apiserver.key', pki.apiServer.keyPem)}`,
        `--client-ca-file=${caFile}`,
        ...(options.nodeIp === undefined
          ? ['--authorization-mode=RBAC']
          : [
              '--authorization-mode=Node,RBAC',
              '--enable-admission-plugins=NodeRestriction',
              `--kubelet-client-certificate=${file('kubelet-client.crt', pki.kubeletClient.certPem)}`,
              `--kubelet-client-key=${file('kubelet-client.key', pki.kubeletClient.keyPem)}`,
              `--kubelet-certificate-authority=${caFile}`,
              '--kubelet-preferred-address-types=InternalIP',
              '--enable-aggregator-routing=true',
            ]),
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        `--service-account-key-file=${file('sa.pub', pki.serviceAccountPublicPem)}`,
        `--service-account-signing-key-file=${file('sa.key', pki.serviceAccountKeyPem)}`,
        '--service-cluster-ip-range=10.96.0.0/16',
        // Scenario 6 proves a privileged pod survives hardening; the default would refuse it outright.
        '--allow-privileged=true',
        // 127.0.0.1 is not a valid endpoint address for the kubernetes Service; nothing in-cluster dials it.
        ...(options.nodeIp === undefined ? ['--endpoint-reconciler-type=none'] : []),
        `--audit-policy-file=${auditPolicy}`,
        `--audit-log-path=${auditLog}`,
        '--audit-log-mode=blocking',
        '--v=1',
      ],
      { dir },
    );
    started.push(apiServer);
    await waitFor('kube-apiserver /readyz', () => getReadyz(server, pki), {
      timeoutMs: 90_000,
      intervalMs: 500,
      process: apiServer,
    });

    const controllerManager = startProcess(
      'kube-controller-manager',
      path.join(binDir, 'kube-controller-manager'),
      [
        `--kubeconfig=${controllerManagerKubeconfig}`,
        `--authentication-kubeconfig=${controllerManagerKubeconfig}`,
        `--authorization-kubeconfig=${controllerManagerKubeconfig}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${controllerManagerPort}`,
        '--leader-elect=false',
        '--use-service-account-credentials=true',
        `--root-ca-file=${caFile}`,
        `--service-account-private-key-file=${file('sa-signer.key', pki.serviceAccountKeyPem)}`,
        '--v=1',
      ],
      { dir },
    );
    started.push(controllerManager);

    if (options.nodeIp !== undefined) {
      const schedulerKubeconfig = file(
        'scheduler.kubeconfig',
        kubeconfigYaml(server, pki.ca.certPem, pki.scheduler),
      );
      started.push(
        startProcess(
          'kube-scheduler',
          path.join(binDir, 'kube-scheduler'),
          [
            `--kubeconfig=${schedulerKubeconfig}`,
            `--authentication-kubeconfig=${schedulerKubeconfig}`,
            `--authorization-kubeconfig=${schedulerKubeconfig}`,
            '--bind-address=127.0.0.1',
            `--secure-port=${await freePort()}`,
            '--leader-elect=false',
            '--v=1',
          ],
          { dir },
        ),
      );
    }
    return { server, adminKubeconfig, auditLog, pki, dir, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
