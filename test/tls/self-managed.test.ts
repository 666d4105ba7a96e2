import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { KubeAccess } from '../../src/k8s/kubeconfig.js';
import { staticToken } from '../../src/k8s/token.js';
import { createMetrics } from '../../src/metrics/index.js';
import { createSilentLogger } from '../../src/logger.js';
import { startSelfManagedTls } from '../../src/tls/self-managed.js';

/** A port nothing listens on: connections to it are refused at once. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// The I/O against a real API server is covered by the end-to-end suite; this is only the start-up bound.
describe('tls/self-managed', () => {
  let tmp: string;

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'pod-hardener-self-managed-test-'));
  });

  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('gives up after the start timeout with a message naming the Secret, counting each failure', async () => {
    const access: KubeAccess = {
      server: `https://127.0.0.1:${await closedPort()}`,
      insecureSkipTlsVerify: true,
      token: staticToken('test-token'),
    };
    const metrics = createMetrics({ defaultMetrics: false });
    const started = Date.now();
    let error: unknown;
    try {
      await startSelfManagedTls({
        access,
        namespace: 'pod-hardener-system',
        secretName: 'pod-hardener-tls',
        webhookConfigurationName: 'pod-hardener',
        certDir: path.join(tmp, 'certs'),
        dnsNames: ['pod-hardener.pod-hardener-system.svc'],
        ipAddresses: [],
        servingValiditySeconds: 3600,
        caValiditySeconds: 7200,
        intervalSeconds: 10,
        logger: createSilentLogger(),
        metrics,
        startTimeoutMs: 2_000,
      });
    } catch (err) {
      error = err;
    }
    expect(Date.now() - started).to.be.below(10_000);
    expect(String(error)).to.match(
      /could not obtain the TLS Secret pod-hardener-system\/pod-hardener-tls within 2s: /,
    );
    const text = await metrics.registry.metrics();
    const failures = Number(/pod_hardener_tls_secret_sync_failures_total (\d+)/.exec(text)?.[1]);
    expect(failures).to.be.at.least(2);
  });
});
