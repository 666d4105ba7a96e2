import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createKubeClient } from '../../src/k8s/http.js';
import {
  KubeConfigError,
  inClusterAccess,
  loadKubeConfigFile,
  type KubeAccess,
} from '../../src/k8s/kubeconfig.js';
import { sendJson, startTestApiServer, testPki, type TestApiServer } from '../support/kube-api.js';

const SECRET = 'token-that-must-never-be-quoted';

function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

function config(overrides: {
  cluster?: Record<string, unknown>;
  user?: Record<string, unknown>;
  currentContext?: string;
}): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name: 'other', cluster: { server: 'https://other.example:6443' } },
      { name: 'test', cluster: { server: 'https://127.0.0.1:6443/', ...overrides.cluster } },
    ],
    users: [
      { name: 'other', user: { token: 'not-this-one' } },
      { name: 'me', user: overrides.user ?? { token: SECRET } },
    ],
    contexts: [
      { name: 'elsewhere', context: { cluster: 'other', user: 'other' } },
      { name: 'here', context: { cluster: 'test', user: 'me' } },
    ],
    'current-context': overrides.currentContext ?? 'here',
  };
}

describe('k8s/kubeconfig', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pod-hardener-kubeconfig-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function write(content: unknown, name = 'kubeconfig'): string {
    const file = join(dir, name);
    writeFileSync(file, typeof content === 'string' ? content : stringify(content));
    return file;
  }

  function loadError(content: unknown): string {
    const file = write(content);
    try {
      loadKubeConfigFile(file);
    } catch (err) {
      expect(err).to.be.instanceOf(KubeConfigError);
      expect((err as Error).message).not.to.include(SECRET);
      return (err as Error).message.replace(file, 'FILE');
    }
    throw new Error('loaded without an error');
  }

  describe('a kubeconfig file', () => {
    it('takes the current context: its server (no trailing slash) and inline token', async () => {
      const access = loadKubeConfigFile(write(config({})));
      expect(access.server).to.equal('https://127.0.0.1:6443');
      expect(access.insecureSkipTlsVerify).to.equal(false);
      expect(access.ca).to.equal(undefined);
      expect(await access.token?.get()).to.equal(SECRET);
    });

    it('reads inline -data fields and, failing those, files relative to the kubeconfig', async () => {
      const { ca, admin } = await testPki();
      const inline = loadKubeConfigFile(
        write(
          config({
            cluster: { 'certificate-authority-data': b64(ca.certPem), 'tls-server-name': 'kubernetes' },
            user: { 'client-certificate-data': b64(admin.certPem), 'client-key-data': b64(admin.keyPem) },
          }),
        ),
      );
      expect(inline.ca?.toString()).to.equal(ca.certPem);
      expect(inline.cert?.toString()).to.equal(admin.certPem);
      expect(inline.key?.toString()).to.equal(admin.keyPem);
      expect(inline.tlsServerName).to.equal('kubernetes');
      expect(inline.token).to.equal(undefined);

      mkdirSync(join(dir, 'pki'));
      writeFileSync(join(dir, 'pki/ca.crt'), ca.certPem);
      writeFileSync(join(dir, 'pki/admin.crt'), admin.certPem);
      writeFileSync(join(dir, 'pki/admin.key'), admin.keyPem);
      const files = loadKubeConfigFile(
        write(
          config({
            cluster: { 'certificate-authority': 'pki/ca.crt' },
            user: { 'client-certificate': 'pki/admin.crt', 'client-key': join(dir, 'pki/admin.key') },
          }),
        ),
      );
      expect(files.ca?.toString()).to.equal(ca.certPem);
      expect(files.cert?.toString()).to.equal(admin.certPem);
      expect(files.key?.toString()).to.equal(admin.keyPem);
    });

    it('takes insecure-skip-tls-verify and a tokenFile, which it reads when asked', async () => {
      writeFileSync(join(dir, 'token'), 'from-file\n');
      const access = loadKubeConfigFile(
        write(config({ cluster: { 'insecure-skip-tls-verify': true }, user: { tokenFile: 'token' } })),
      );
      expect(access.insecureSkipTlsVerify).to.equal(true);
      expect(await access.token?.get()).to.equal('from-file');
    });

    it('a context without a user sends no credentials', () => {
      const doc = config({});
      (doc.contexts as { context: { user?: string } }[])[1]!.context.user = undefined;
      const access = loadKubeConfigFile(write(doc));
      expect(access.token).to.equal(undefined);
      expect(access.cert).to.equal(undefined);
    });

    const bad: [string, unknown, RegExp | string][] = [
      ['empty', '', 'cannot load kubeconfig FILE: not a kubeconfig document'],
      ['a list', '- a\n- b\n', 'cannot load kubeconfig FILE: not a kubeconfig document'],
      [
        'invalid YAML',
        `users:\n- name: x\n  user: {token: ${SECRET}\n`,
        /^cannot load kubeconfig FILE: invalid YAML at line \d+ \(\w+\)$/,
      ],
      [
        'no current-context',
        { ...config({}), 'current-context': undefined },
        /has no usable current cluster/,
      ],
      [
        'a current-context that is not there',
        config({ currentContext: 'nope' }),
        /has no usable current cluster/,
      ],
      ['a cluster without a server', config({ cluster: { server: '' } }), /has no usable current cluster/],
      [
        'a server that is not a URL',
        config({ cluster: { server: '127.0.0.1:6443' } }),
        /server is not an http\(s\) URL/,
      ],
      [
        'an exec plugin',
        config({ user: { exec: { command: 'aws', args: ['eks', 'get-token'] } } }),
        'kubeconfig FILE: user "me" uses an exec credential plugin, which pod-hardener does not support (use a token, tokenFile or client certificate)',
      ],
      [
        'an auth-provider',
        config({ user: { 'auth-provider': { name: 'oidc' } } }),
        /uses an auth-provider, which pod-hardener does not support/,
      ],
      ['basic auth', config({ user: { username: 'a', password: SECRET } }), /uses basic authentication/],
      [
        'a certificate without its key',
        config({ user: { 'client-certificate-data': b64('x') } }),
        /without its key/,
      ],
      [
        'a CA file that is not there',
        config({ cluster: { 'certificate-authority': 'nope.crt' } }),
        /cannot read certificate-authority .*nope\.crt: ENOENT$/,
      ],
      [
        'a tokenFile that is not there',
        config({ user: { tokenFile: 'nope' } }),
        /tokenFile .*nope does not exist$/,
      ],
    ];
    for (const [what, content, expected] of bad) {
      it(`refuses ${what} with a clear message`, () => {
        const message = loadError(content);
        if (typeof expected === 'string') expect(message).to.equal(expected);
        else expect(message).to.match(expected);
      });
    }

    it('refuses a user the context names but the file does not have', () => {
      const doc = config({});
      doc.users = [];
      expect(loadError(doc)).to.equal('kubeconfig FILE: user "me" of context "here" not found');
    });

    it('names a file that is not there by its error code', () => {
      const file = join(dir, 'absent');
      expect(() => loadKubeConfigFile(file)).to.throw(
        KubeConfigError,
        `cannot load kubeconfig ${file}: ENOENT`,
      );
    });
  });

  describe('in-cluster', () => {
    function serviceAccount(token = 'sa-token'): string {
      const sa = join(dir, 'serviceaccount');
      mkdirSync(sa, { recursive: true });
      writeFileSync(join(sa, 'token'), token);
      writeFileSync(join(sa, 'ca.crt'), 'CA');
      return sa;
    }

    it('uses KUBERNETES_SERVICE_HOST/PORT, the mounted CA and the token file', async () => {
      const access = inClusterAccess(
        { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' },
        serviceAccount(),
      );
      expect(access.server).to.equal('https://10.96.0.1:443');
      expect(access.ca?.toString()).to.equal('CA');
      expect(access.insecureSkipTlsVerify).to.equal(false);
      expect(await access.token?.get()).to.equal('sa-token');
    });

    it('brackets an IPv6 service address', () => {
      const access = inClusterAccess(
        { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' },
        serviceAccount(),
      );
      expect(access.server).to.equal('https://[fd00::1]:443');
    });

    it('refuses to start outside a pod or without a token', () => {
      expect(() => inClusterAccess({}, serviceAccount())).to.throw(/KUBERNETES_SERVICE_HOST/);
      expect(() =>
        inClusterAccess({ KUBERNETES_SERVICE_HOST: 'h', KUBERNETES_SERVICE_PORT: '1' }, join(dir, 'none')),
      ).to.throw(/token does not exist \(is automountServiceAccountToken disabled\?\)/);
    });
  });

  describe('end to end with a real server', () => {
    let server: TestApiServer;
    before(async () => {
      server = await startTestApiServer({ requireClientCert: true });
      server.handle((_req, res) => {
        sendJson(res, 200, { kind: 'APIVersions' });
      });
    });
    after(async () => {
      await server.close();
    });

    it('a kubeconfig with a CA file and a client certificate reaches it', async () => {
      const { ca, admin } = server.pki;
      writeFileSync(join(dir, 'ca.crt'), ca.certPem);
      const access: KubeAccess = loadKubeConfigFile(
        write(
          config({
            cluster: { server: server.url, 'certificate-authority': 'ca.crt' },
            user: { 'client-certificate-data': b64(admin.certPem), 'client-key-data': b64(admin.keyPem) },
          }),
        ),
      );
      const client = createKubeClient(access);
      try {
        expect(await client.request({ path: '/api' })).to.deep.equal({ kind: 'APIVersions' });
      } finally {
        client.close();
      }
      expect(server.requests.at(-1)?.clientCn).to.equal('e2e-admin');
    });
  });
});
