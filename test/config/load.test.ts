import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import { expect } from 'chai';
import {
  ConfigError,
  DEFAULT_MAX_BODY_BYTES,
  defaultMaxInFlightBytes,
  envVarName,
  loadConfig,
  type Config,
  type LoadConfigOptions,
} from '../../src/config/index.js';
import { DEFAULT_ENGINE_SETTINGS } from '../../src/engine/resolve/settings.js';
import { DEFAULT_TLS_CIPHER_SUITES } from '../../src/tls/protocol.js';

function filesFrom(files: Readonly<Record<string, string>>): (path: string) => string {
  return (path) => {
    const text = files[path];
    if (text === undefined) throw new Error(`ENOENT: no such file or directory, open '${path}'`);
    return text;
  };
}

/** Loads with a YAML file at /etc/ph.yaml and nothing else unless given. */
function withFile(yaml: string, options: LoadConfigOptions = {}): Config {
  return loadConfig({
    env: {},
    ...options,
    argvFlags: { config: '/etc/ph.yaml', ...options.argvFlags },
    readFile: filesFrom({ '/etc/ph.yaml': yaml }),
  });
}

function problemsOf(load: () => unknown): readonly string[] {
  try {
    load();
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  expect.fail('expected a ConfigError');
}

function expectProblem(load: () => unknown, ...fragments: string[]): void {
  const problems = problemsOf(load);
  for (const fragment of fragments) {
    expect(
      problems.some((p) => p.includes(fragment)),
      `no problem mentions ${JSON.stringify(fragment)} in:\n${problems.join('\n')}`,
    ).to.equal(true);
  }
}

describe('config', () => {
  describe('defaults', () => {
    it('needs nothing at all', () => {
      const config = loadConfig({ env: {}, readFile: filesFrom({}) });
      expect(config).to.deep.equal({
        engine: DEFAULT_ENGINE_SETTINGS,
        port: 8443,
        tlsCipherSuites: DEFAULT_TLS_CIPHER_SUITES,
        tlsMinVersion: 'TLSv1.2',
        maxBodyBytes: 3 * 1024 * 1024,
        maxInFlightBytes: defaultMaxInFlightBytes(v8.getHeapStatistics().heap_size_limit),
        maxReviewWaitSeconds: 3,
        namespaceLookupTimeoutMs: 1000,
        tlsReloadIntervalSeconds: 10,
        shutdownDelaySeconds: 5,
        shutdownTimeoutSeconds: 25,
        logLevel: 'info',
        cluster: { kind: 'off' },
        tlsMode: 'self-signed',
        tlsSecretName: 'pod-hardener-tls',
        webhookConfigurationName: 'pod-hardener',
        tlsServiceName: 'pod-hardener',
        tlsExtraHosts: [],
        tlsCertDir: path.join(os.tmpdir(), 'pod-hardener-tls'),
        tlsServingCertValiditySeconds: 30 * 24 * 60 * 60,
        tlsCaValiditySeconds: 365 * 24 * 60 * 60,
      });
      expect(DEFAULT_MAX_BODY_BYTES).to.equal(3145728);
    });

    it('reads no file unless one is named', () => {
      loadConfig({
        env: {},
        readFile: () => {
          throw new Error('must not read');
        },
      });
    });
  });

  describe('cluster access', () => {
    it('is off on a laptop, even with a HOME and KUBECONFIG around', () => {
      const config = loadConfig({ env: { HOME: '/home/me', KUBECONFIG: '/home/me/.kube/config' } });
      expect(config.cluster).to.deep.equal({ kind: 'off' });
    });

    it('is in-cluster when KUBERNETES_SERVICE_HOST is set', () => {
      const config = loadConfig({ env: { KUBERNETES_SERVICE_HOST: '10.96.0.1' } });
      expect(config.cluster).to.deep.equal({ kind: 'in-cluster' });
    });

    it('uses an explicit kubeconfig, which beats in-cluster', () => {
      const config = loadConfig({
        env: { KUBERNETES_SERVICE_HOST: '10.96.0.1' },
        argvFlags: { kubeconfig: '/tmp/kc' },
      });
      expect(config.cluster).to.deep.equal({ kind: 'kubeconfig', path: '/tmp/kc' });
      expect(config.kubeconfig).to.equal('/tmp/kc');
    });

    it('takes the kubeconfig from the file or the environment too', () => {
      expect(withFile('kubeconfig: /a\n').cluster).to.deep.equal({ kind: 'kubeconfig', path: '/a' });
      expect(loadConfig({ env: { POD_HARDENER_KUBECONFIG: '/b' } }).cluster).to.deep.equal({
        kind: 'kubeconfig',
        path: '/b',
      });
    });
  });

  describe('precedence: defaults < file < env < flags', () => {
    const yaml = ['port: 9000', 'defaultMode: warn', 'logLevel: debug', 'runAsUser: 1000', ''].join('\n');

    it('file over defaults', () => {
      const config = withFile(yaml);
      expect(config.port).to.equal(9000);
      expect(config.engine.defaultMode).to.equal('warn');
      expect(config.logLevel).to.equal('debug');
      expect(config.engine.runAsUser).to.equal(1000);
      expect(config.engine.runAsGroup).to.equal(DEFAULT_ENGINE_SETTINGS.runAsGroup);
      expect(config.configFile).to.equal('/etc/ph.yaml');
    });

    it('env over file', () => {
      const config = withFile(yaml, {
        env: {
          POD_HARDENER_PORT: '9001',
          POD_HARDENER_DEFAULT_MODE: 'audit',
          POD_HARDENER_RUN_AS_USER: '2000',
        },
      });
      expect(config.port).to.equal(9001);
      expect(config.engine.defaultMode).to.equal('audit');
      expect(config.engine.runAsUser).to.equal(2000);
      expect(config.logLevel).to.equal('debug');
    });

    it('flags over env', () => {
      const config = withFile(yaml, {
        env: {
          POD_HARDENER_PORT: '9001',
          POD_HARDENER_DEFAULT_MODE: 'audit',
          POD_HARDENER_LOG_LEVEL: 'warn',
        },
        argvFlags: { port: '9002', 'default-mode': 'enforce', 'log-level': 'error' },
      });
      expect(config.port).to.equal(9002);
      expect(config.engine.defaultMode).to.equal('enforce');
      expect(config.logLevel).to.equal('error');
    });

    it('names the file through POD_HARDENER_CONFIG, and --config beats it', () => {
      const readFile = filesFrom({ '/env.yaml': 'port: 1\n', '/flag.yaml': 'port: 2\n' });
      expect(loadConfig({ env: { POD_HARDENER_CONFIG: '/env.yaml' }, readFile }).port).to.equal(1);
      expect(
        loadConfig({
          env: { POD_HARDENER_CONFIG: '/env.yaml' },
          argvFlags: { config: '/flag.yaml' },
          readFile,
        }).port,
      ).to.equal(2);
    });

    it('maps every scalar key to POD_HARDENER_<UPPER_SNAKE_KEY>', () => {
      expect(envVarName('tlsCertFile')).to.equal('POD_HARDENER_TLS_CERT_FILE');
      expect(envVarName('namespaceLookupTimeoutMs')).to.equal('POD_HARDENER_NAMESPACE_LOOKUP_TIMEOUT_MS');
      const config = loadConfig({
        env: {
          POD_HARDENER_PORT: '1',
          POD_HARDENER_TLS_CERT_FILE: '/c',
          POD_HARDENER_TLS_KEY_FILE: '/k',
          POD_HARDENER_MAX_BODY_BYTES: '1024',
          POD_HARDENER_NAMESPACE_LOOKUP_TIMEOUT_MS: '250',
          POD_HARDENER_TLS_RELOAD_INTERVAL_SECONDS: '0.5',
          POD_HARDENER_SHUTDOWN_DELAY_SECONDS: '0',
          POD_HARDENER_SHUTDOWN_TIMEOUT_SECONDS: '3',
          POD_HARDENER_LOG_LEVEL: 'debug',
          POD_HARDENER_ANNOTATION_PREFIX: 'hardener.example.com',
          POD_HARDENER_DEFAULT_MODE: 'warn',
          POD_HARDENER_RUN_AS_USER: '10',
          POD_HARDENER_RUN_AS_GROUP: '11',
          POD_HARDENER_FS_GROUP: '12',
          POD_HARDENER_WRITABLE_VOLUME_SIZE_LIMIT: '1Gi',
          POD_HARDENER_DISABLED_CONTROLS: 'default-resources, seccomp-runtime-default',
        },
      });
      expect(config).to.deep.include({
        port: 1,
        tlsCertFile: '/c',
        tlsKeyFile: '/k',
        maxBodyBytes: 1024,
        namespaceLookupTimeoutMs: 250,
        tlsReloadIntervalSeconds: 0.5,
        shutdownDelaySeconds: 0,
        shutdownTimeoutSeconds: 3,
        logLevel: 'debug',
      });
      expect(config.engine).to.deep.include({
        annotationPrefix: 'hardener.example.com',
        defaultMode: 'warn',
        runAsUser: 10,
        runAsGroup: 11,
        fsGroup: 12,
        writableVolumeSizeLimit: '1Gi',
      });
      expect(config.engine.disabledControls).to.deep.equal(['default-resources', 'seccomp-runtime-default']);
    });

    it('listens on every interface unless host names one IP address', () => {
      expect(loadConfig({ env: {} }).host).to.be.undefined;
      expect(loadConfig({ env: {}, argvFlags: { host: '127.0.0.1' } }).host).to.equal('127.0.0.1');
      expect(loadConfig({ env: { POD_HARDENER_HOST: '::1' } }).host).to.equal('::1');
      expect(problemsOf(() => withFile('host: localhost'))).to.deep.equal([
        'host must be an IP address such as 127.0.0.1 or ::1, got "localhost" (from /etc/ph.yaml: host)',
      ]);
    });

    it('treats empty environment variables and null file values as unset', () => {
      const config = withFile('port:\nlogLevel: null\n', { env: { POD_HARDENER_PORT: '' } });
      expect(config.port).to.equal(8443);
      expect(config.logLevel).to.equal('info');
    });

    it('ignores the service link the kubelet injects for a Service named pod-hardener', () => {
      const config = loadConfig({
        env: {
          POD_HARDENER_PORT: 'tcp://10.96.12.7:443',
          POD_HARDENER_SERVICE_HOST: '10.96.12.7',
          POD_HARDENER_SERVICE_PORT: '443',
          POD_HARDENER_PORT_443_TCP: 'tcp://10.96.12.7:443',
        },
      });
      expect(config.port).to.equal(8443);
    });

    it('accepts numbers quoted as strings in the file (as Helm renders them)', () => {
      expect(withFile('port: "9443"\nrunAsUser: "1001"\n')).to.deep.include({ port: 9443 });
    });
  });

  describe('tls', () => {
    const cluster = { KUBERNETES_SERVICE_HOST: '10.96.0.1' };

    it('defaults to files when a certificate and key are given, to self-signed otherwise', () => {
      expect(loadConfig({ env: {} }).tlsMode).to.equal('self-signed');
      expect(loadConfig({ argvFlags: { 'tls-cert': '/c', 'tls-key': '/k' } }).tlsMode).to.equal('files');
    });

    it('reads every self-managed key from the file', () => {
      const config = withFile(
        [
          'tlsMode: self-managed',
          'namespace: pod-hardener-system',
          'tlsSecretName: my-tls',
          'webhookConfigurationName: my-webhook',
          'tlsServiceName: my-svc',
          'tlsExtraHosts: [127.0.0.1, "::1", webhook.example.com]',
          'tlsCertDir: /tmp/certs',
          'tlsServingCertValiditySeconds: 45',
          'tlsCaValiditySeconds: 90',
          'tlsReloadIntervalSeconds: 1',
          '',
        ].join('\n'),
        { argvFlags: { kubeconfig: '/kc' } },
      );
      expect(config).to.deep.include({
        tlsMode: 'self-managed',
        namespace: 'pod-hardener-system',
        tlsSecretName: 'my-tls',
        webhookConfigurationName: 'my-webhook',
        tlsServiceName: 'my-svc',
        tlsExtraHosts: ['127.0.0.1', '::1', 'webhook.example.com'],
        tlsCertDir: '/tmp/certs',
        tlsServingCertValiditySeconds: 45,
        tlsCaValiditySeconds: 90,
      });
      expect(config.cluster).to.deep.equal({ kind: 'kubeconfig', path: '/kc' });
    });

    it('takes them from the environment too, the host list comma-separated, and --tls-mode', () => {
      expect(envVarName('tlsExtraHosts')).to.equal('POD_HARDENER_TLS_EXTRA_HOSTS');
      const config = loadConfig({
        env: {
          ...cluster,
          POD_HARDENER_TLS_MODE: 'self-signed',
          POD_HARDENER_NAMESPACE: 'ns',
          POD_HARDENER_TLS_SECRET_NAME: 's',
          POD_HARDENER_WEBHOOK_CONFIGURATION_NAME: 'w',
          POD_HARDENER_TLS_SERVICE_NAME: 'svc',
          POD_HARDENER_TLS_EXTRA_HOSTS: '10.0.0.1, a.example.com,,',
          POD_HARDENER_TLS_CERT_DIR: '/certs',
          POD_HARDENER_TLS_SERVING_CERT_VALIDITY_SECONDS: '3600',
          POD_HARDENER_TLS_CA_VALIDITY_SECONDS: '7200',
        },
        argvFlags: { 'tls-mode': 'self-managed' },
      });
      expect(config).to.deep.include({
        tlsMode: 'self-managed',
        namespace: 'ns',
        tlsSecretName: 's',
        webhookConfigurationName: 'w',
        tlsServiceName: 'svc',
        tlsExtraHosts: ['10.0.0.1', 'a.example.com'],
        tlsCertDir: '/certs',
        tlsServingCertValiditySeconds: 3600,
        tlsCaValiditySeconds: 7200,
      });
    });

    it('self-managed needs cluster access and a namespace', () => {
      expectProblem(
        () => loadConfig({ env: { POD_HARDENER_TLS_MODE: 'self-managed' } }),
        'tlsMode self-managed needs cluster access',
        'tlsMode self-managed needs namespace',
        'POD_HARDENER_NAMESPACE',
      );
      expect(
        loadConfig({
          env: { ...cluster, POD_HARDENER_TLS_MODE: 'self-managed', POD_HARDENER_NAMESPACE: 'a' },
        }).cluster,
      ).to.deep.equal({ kind: 'in-cluster' });
    });

    it('files needs the files, and the other modes refuse them', () => {
      expectProblem(
        () => loadConfig({ argvFlags: { 'tls-mode': 'files' } }),
        'tlsMode files needs tlsCertFile and tlsKeyFile',
      );
      expectProblem(
        () => loadConfig({ argvFlags: { 'tls-mode': 'self-signed', 'tls-cert': '/c', 'tls-key': '/k' } }),
        'tlsCertFile and tlsKeyFile are only used with tlsMode files, but tlsMode is self-signed',
      );
    });

    it('reports invalid names, hosts, modes and validities', () => {
      expectProblem(
        () =>
          withFile(
            [
              'tlsMode: cert-manager',
              'namespace: Pod_Hardener',
              'tlsSecretName: "-tls"',
              'webhookConfigurationName: ""',
              'tlsServiceName: 1svc',
              'tlsExtraHosts: [127.0.0.1, "not a host", 300.1.1.1, UPPER.example.com]',
              'tlsServingCertValiditySeconds: 29',
              'tlsCaValiditySeconds: 1.5',
              '',
            ].join('\n'),
          ),
        'tlsMode must be one of files, self-signed, self-managed, got "cert-manager"',
        'namespace must be a valid namespace name',
        'tlsSecretName must be a valid DNS subdomain',
        'webhookConfigurationName must be a valid DNS subdomain',
        'tlsServiceName must be a valid Service name',
        'tlsExtraHosts has entries that are neither a lowercase DNS name nor an IP address: "not a host", "300.1.1.1", "UPPER.example.com"',
        'tlsServingCertValiditySeconds must be a whole number of seconds from 30',
        'tlsCaValiditySeconds must be a whole number of seconds from 30',
      );
      expectProblem(() => withFile('tlsExtraHosts: {a: 1}\n'), 'tlsExtraHosts must be a list');
    });

    describe('cipher suites and minimum version', () => {
      it('defaults to ECDHE with AES-GCM or ChaCha20-Poly1305 for TLS 1.2, and the TLS 1.3 suites', () => {
        const suites = loadConfig({ env: {} }).tlsCipherSuites.split(':');
        expect(suites.filter((s) => !s.startsWith('TLS_'))).to.have.length.above(0);
        for (const suite of suites) {
          expect(suite).to.match(
            /^(TLS_(AES_(128|256)_GCM|CHACHA20_POLY1305)_|ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM|CHACHA20-POLY1305))/,
          );
        }
      });

      it('reads both keys from the file, the environment and as YAML numbers or Node names', () => {
        expect(withFile('tlsMinVersion: 1.3\n').tlsMinVersion).to.equal('TLSv1.3');
        expect(withFile('tlsMinVersion: "1.2"\n').tlsMinVersion).to.equal('TLSv1.2');
        expect(withFile('tlsMinVersion: TLSv1.3\n').tlsMinVersion).to.equal('TLSv1.3');
        expect(
          withFile('tlsCipherSuites: [ECDHE-ECDSA-AES256-GCM-SHA384, TLS_AES_256_GCM_SHA384]\n')
            .tlsCipherSuites,
        ).to.equal('ECDHE-ECDSA-AES256-GCM-SHA384:TLS_AES_256_GCM_SHA384');
        const config = loadConfig({
          env: {
            POD_HARDENER_TLS_CIPHER_SUITES: 'ECDHE-RSA-AES128-GCM-SHA256, ECDHE+AESGCM:!aNULL:@STRENGTH',
            POD_HARDENER_TLS_MIN_VERSION: '1.3',
          },
        });
        expect(config.tlsCipherSuites).to.equal('ECDHE-RSA-AES128-GCM-SHA256:ECDHE+AESGCM:!aNULL:@STRENGTH');
        expect(config.tlsMinVersion).to.equal('TLSv1.3');
      });

      it('names every unknown suite, even beside known ones that OpenSSL would accept the list for', () => {
        expectProblem(
          () =>
            withFile(
              'tlsCipherSuites: ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA257:TLS_AES_512\n',
            ),
          'tlsCipherSuites has entries that match no cipher suite',
          '"ECDHE-ECDSA-AES128-GCM-SHA257", "TLS_AES_512"',
          '(from /etc/ph.yaml: tlsCipherSuites)',
        );
        expectProblem(
          () => loadConfig({ env: { POD_HARDENER_TLS_CIPHER_SUITES: 'ecdhe-ecdsa-aes128-gcm-sha256' } }),
          'names are case-sensitive',
          '(from env POD_HARDENER_TLS_CIPHER_SUITES)',
        );
        expectProblem(() => withFile('tlsCipherSuites: "ECDHE+AESGCM:@SECLEVEL=9"\n'), '"@SECLEVEL=9"');
        expectProblem(
          () => withFile('tlsCipherSuites: "!aNULL"\n'),
          'tlsCipherSuites must select at least one',
        );
        expectProblem(
          () => withFile('tlsCipherSuites: 42\n'),
          'tlsCipherSuites must be an OpenSSL cipher list',
        );
      });

      it('refuses a minimum version other than 1.2 or 1.3', () => {
        for (const bad of ['1.1', '1', 'TLSv1.1', 'SSLv3', '1.0']) {
          expectProblem(() => withFile(`tlsMinVersion: ${bad}\n`), 'tlsMinVersion must be 1.2 or 1.3');
        }
      });

      it('refuses a TLS 1.3-only list unless the minimum version is 1.3', () => {
        expectProblem(
          () => withFile('tlsCipherSuites: TLS_AES_128_GCM_SHA256\n'),
          'tlsCipherSuites names only TLS 1.3 suites but tlsMinVersion is 1.2',
        );
        const config = withFile('tlsCipherSuites: TLS_AES_128_GCM_SHA256\ntlsMinVersion: 1.3\n');
        expect(config.tlsCipherSuites).to.equal('TLS_AES_128_GCM_SHA256');
      });
    });

    it('accepts validities as short as 30 s, and refuses a CA shorter than twice the serving certificate', () => {
      const config = withFile('tlsServingCertValiditySeconds: 30\ntlsCaValiditySeconds: 60\n');
      expect(config).to.deep.include({ tlsServingCertValiditySeconds: 30, tlsCaValiditySeconds: 60 });
      expectProblem(
        () => withFile('tlsServingCertValiditySeconds: 45\ntlsCaValiditySeconds: 89\n'),
        'tlsCaValiditySeconds (89) must be at least twice tlsServingCertValiditySeconds (45)',
      );
      expectProblem(
        () => withFile('tlsServingCertValiditySeconds: 31536000\n'),
        'tlsCaValiditySeconds (31536000) must be at least twice tlsServingCertValiditySeconds (31536000)',
      );
    });

    it('self-managed: the poll interval must fit three times into the serving lifetime', () => {
      const env = { ...cluster, POD_HARDENER_TLS_MODE: 'self-managed', POD_HARDENER_NAMESPACE: 'a' };
      expect(
        loadConfig({ env: { ...env, POD_HARDENER_TLS_SERVING_CERT_VALIDITY_SECONDS: '30' } })
          .tlsReloadIntervalSeconds,
      ).to.equal(10);
      expectProblem(
        () => loadConfig({ env: { ...env, POD_HARDENER_TLS_SERVING_CERT_VALIDITY_SECONDS: '29' } }),
        'tlsServingCertValiditySeconds must be a whole number',
      );
      expectProblem(
        () =>
          loadConfig({
            env: {
              ...env,
              POD_HARDENER_TLS_SERVING_CERT_VALIDITY_SECONDS: '45',
              POD_HARDENER_TLS_RELOAD_INTERVAL_SECONDS: '20',
            },
          }),
        'tlsReloadIntervalSeconds (20) must be at most a third of tlsServingCertValiditySeconds (45)',
      );
    });
  });

  describe('engine settings from the file', () => {
    it('reads every engine key at the top level', () => {
      const config = withFile(
        [
          'annotationPrefix: hardening.example.org',
          'defaultMode: audit',
          'runAsUser: 1000',
          'runAsGroup: 2000',
          'fsGroup: 3000',
          'writableVolumeSizeLimit: 64Mi',
          'disabledControls: [read-only-root-filesystem]',
          'resources:',
          '  requests: {cpu: 50m, memory: 64Mi}',
          '  limits: {cpu: 1, memory: 1Gi}',
          'imageProfiles:',
          '  - {name: nginx, images: ["nginx:*"], runAsUser: 101, writablePaths: [/var/cache/nginx/]}',
          '',
        ].join('\n'),
      );
      expect(config.engine).to.deep.equal({
        annotationPrefix: 'hardening.example.org',
        defaultMode: 'audit',
        runAsUser: 1000,
        runAsGroup: 2000,
        fsGroup: 3000,
        writableVolumeSizeLimit: '64Mi',
        disabledControls: ['read-only-root-filesystem'],
        resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '1', memory: '1Gi' } },
        imageProfiles: [
          { name: 'nginx', images: ['nginx:*'], runAsUser: 101, writablePaths: ['/var/cache/nginx'] },
        ],
      });
    });

    it('merges resources per value, and null or "" switches one default off', () => {
      const config = withFile('resources:\n  requests: {cpu: null}\n  limits: {memory: ""}\n');
      expect(config.engine.resources).to.deep.equal({
        requests: { cpu: null, memory: DEFAULT_ENGINE_SETTINGS.resources.requests.memory },
        limits: { cpu: DEFAULT_ENGINE_SETTINGS.resources.limits.cpu, memory: null },
      });
    });

    it('does not compare a request with a limit that was switched off', () => {
      const config = withFile('resources:\n  requests: {cpu: "2"}\n  limits: {cpu: null}\n');
      expect(config.engine.resources.requests.cpu).to.equal('2');
    });

    it('compares quantities exactly, not as text', () => {
      const config = withFile('resources:\n  requests: {memory: 1Gi}\n  limits: {memory: "1073741824"}\n');
      expect(config.engine.resources.limits.memory).to.equal('1073741824');
    });

    it('removes duplicate disabled controls', () => {
      const config = withFile('disabledControls: [default-resources, default-resources]\n');
      expect(config.engine.disabledControls).to.deep.equal(['default-resources']);
    });
  });

  describe('validation', () => {
    it('reports unknown keys with their path', () => {
      expectProblem(
        () => withFile('prot: 1\nresources:\n  requests:\n    gpu: 1\n  limit: {}\n'),
        '/etc/ph.yaml: unknown key "prot"',
        '/etc/ph.yaml: unknown key "resources.requests.gpu"',
        '/etc/ph.yaml: unknown key "resources.limit"',
      );
    });

    it('suggests the right spelling for a key with the wrong case', () => {
      expectProblem(
        () => withFile('runAsUSer: 1000\n'),
        'unknown key "runAsUSer" (did you mean "runAsUser"?)',
      );
    });

    it('reports an unknown control id and lists the known ones', () => {
      expectProblem(
        () => withFile('disabledControls: [run-as-non-root, no-root]\n'),
        'disabledControls has unknown control id "no-root"',
        'known: run-as-non-root, drop-all-capabilities',
      );
      expectProblem(
        () => loadConfig({ env: { POD_HARDENER_DISABLED_CONTROLS: 'nope' } }),
        'unknown control id "nope" (known:',
        'from env POD_HARDENER_DISABLED_CONTROLS',
      );
      expectProblem(
        () => withFile('disabledControls: {a: 1}\n'),
        'disabledControls must be a list of control ids',
      );
    });

    it('reports invalid quantities', () => {
      expectProblem(
        () => withFile('writableVolumeSizeLimit: 1GB\nresources:\n  requests: {cpu: lots, memory: "-1Mi"}\n'),
        'writableVolumeSizeLimit must be a Kubernetes quantity such as 500m or 256Mi, got "1GB"',
        'resources.requests.cpu must be a Kubernetes quantity such as 500m or 256Mi, got "lots"',
        'resources.requests.memory must be greater than zero, got "-1Mi"',
      );
      expectProblem(
        () => withFile('resources:\n  limits: {cpu: [1]}\n'),
        'resources.limits.cpu must be a Kubernetes quantity',
      );
    });

    it('reports a default request above its default limit', () => {
      expectProblem(
        () => withFile('resources:\n  requests: {cpu: "1", memory: 2Gi}\n'),
        'resources.requests.cpu (1) is above resources.limits.cpu (500m)',
        'resources.requests.memory (2Gi) is above resources.limits.memory (512Mi)',
      );
    });

    it('refuses 0 (root) and non-positive or non-integer ids', () => {
      expectProblem(
        () => withFile('runAsUser: 0\nrunAsGroup: -5\nfsGroup: 1.5\n'),
        'runAsUser must not be 0 (root)',
        'runAsGroup must be a positive integer up to 2147483647, got -5',
        'fsGroup must be a positive integer up to 2147483647, got 1.5',
      );
      expectProblem(
        () => loadConfig({ env: { POD_HARDENER_RUN_AS_USER: '0' } }),
        'runAsUser must not be 0 (root)',
      );
      expectProblem(() => withFile('fsGroup: 4294967296\n'), 'fsGroup must be a positive integer');
    });

    it('reports an invalid mode and log level', () => {
      expectProblem(
        () => loadConfig({ argvFlags: { 'default-mode': 'block', 'log-level': 'trace' } }),
        'defaultMode must be one of enforce, warn, audit, got "block" (from --default-mode)',
        'logLevel must be one of error, warn, info, debug, got "trace" (from --log-level)',
      );
    });

    it('reports a port out of range and says where it came from', () => {
      expectProblem(
        () => loadConfig({ argvFlags: { port: '70000' } }),
        'port must be an integer from 0 to 65535, got "70000" (from --port)',
      );
      expectProblem(() => loadConfig({ env: { POD_HARDENER_PORT: 'http' } }), '(from env POD_HARDENER_PORT)');
      expectProblem(
        () => withFile('port: -1\n'),
        'port must be an integer from 0 to 65535, got -1 (from /etc/ph.yaml: port)',
      );
    });

    it('reports an annotationPrefix that is not a DNS subdomain', () => {
      for (const bad of ['Pod-Hardener.io', 'pod_hardener.io', '-x.io', 'x.io/', 'a'.repeat(254)]) {
        expectProblem(
          () => loadConfig({ env: { POD_HARDENER_ANNOTATION_PREFIX: bad } }),
          'annotationPrefix must be a valid DNS subdomain',
        );
      }
      expect(
        loadConfig({ env: { POD_HARDENER_ANNOTATION_PREFIX: 'a-b.c9.io' } }).engine.annotationPrefix,
      ).to.equal('a-b.c9.io');
    });

    it('reports a certificate without a key and a key without a certificate', () => {
      expectProblem(
        () => loadConfig({ argvFlags: { 'tls-cert': '/c' } }),
        'tlsCertFile is set but tlsKeyFile is not',
      );
      expectProblem(
        () => loadConfig({ argvFlags: { 'tls-key': '/k' } }),
        'tlsKeyFile is set but tlsCertFile is not',
      );
      const both = loadConfig({ argvFlags: { 'tls-cert': '/c', 'tls-key': '/k' } });
      expect(both).to.deep.include({ tlsCertFile: '/c', tlsKeyFile: '/k' });
    });

    it('derives the in-flight budget from the V8 heap limit, in whole MiB and never below one body', () => {
      const mib = 1024 * 1024;
      // --max-old-space-size=160 gives a heap limit of 208 MiB (with the young generation).
      expect(loadConfig({ env: {}, heapLimitBytes: 208 * mib }).maxInFlightBytes).to.equal(8 * mib);
      expect(loadConfig({ env: {}, heapLimitBytes: 2 * mib }).maxInFlightBytes).to.equal(
        DEFAULT_MAX_BODY_BYTES,
      );
      const set = loadConfig({
        env: { POD_HARDENER_MAX_IN_FLIGHT_BYTES: '1048576', POD_HARDENER_MAX_REVIEW_WAIT_SECONDS: '2.5' },
        heapLimitBytes: 208 * mib,
      });
      expect(set).to.deep.include({ maxInFlightBytes: mib, maxReviewWaitSeconds: 2.5 });
      expectProblem(
        () => withFile('maxInFlightBytes: 0\nmaxReviewWaitSeconds: 0\n'),
        'maxInFlightBytes must be a positive integer, got 0',
        'maxReviewWaitSeconds must be a number of seconds greater than 0, got 0',
      );
    });

    it('reports timing values that make no sense', () => {
      expectProblem(
        () =>
          withFile(
            'maxBodyBytes: 0\nnamespaceLookupTimeoutMs: 1.5\ntlsReloadIntervalSeconds: 0\nshutdownDelaySeconds: -1\n',
          ),
        'maxBodyBytes must be a positive integer, got 0',
        'namespaceLookupTimeoutMs must be a positive integer, got 1.5',
        'tlsReloadIntervalSeconds must be a number greater than 0, got 0',
        'shutdownDelaySeconds must be a number of seconds, 0 or more, got -1',
      );
      expectProblem(
        () => withFile('shutdownDelaySeconds: 30\nshutdownTimeoutSeconds: 20\n'),
        'shutdownTimeoutSeconds (20) must be greater than shutdownDelaySeconds (30)',
      );
    });

    it('reports empty strings for file paths', () => {
      expectProblem(() => withFile('kubeconfig: ""\n'), 'kubeconfig must be a non-empty string');
    });

    it('lists every problem at once', () => {
      const problems = problemsOf(() =>
        withFile('port: 99999\nrunAsUser: 0\ndefaultMode: nope\nextra: 1\n', {
          argvFlags: { 'tls-key': '/k' },
        }),
      );
      expect(problems).to.have.length(5);
      const err = (() => {
        try {
          withFile('port: 99999\n');
        } catch (e) {
          return e as Error;
        }
        return undefined;
      })();
      expect(err?.message).to.match(/^invalid configuration:\n {2}- port must be/);
    });

    it('reports an unreadable file, invalid YAML and a non-mapping document', () => {
      expectProblem(
        () => loadConfig({ argvFlags: { config: '/missing.yaml' }, readFile: filesFrom({}) }),
        'cannot read config file /missing.yaml: ENOENT',
      );
      expectProblem(() => withFile('port: [1\n'), '/etc/ph.yaml: invalid YAML');
      expectProblem(() => withFile('port: 1\nport: 2\n'), '/etc/ph.yaml: invalid YAML');
      expectProblem(
        () => withFile('- port\n'),
        '/etc/ph.yaml: must be a YAML mapping of settings, got a list',
      );
      expectProblem(() => withFile('resources: 1\n'), 'resources must be a mapping with requests and limits');
    });

    it('accepts an empty file', () => {
      expect(withFile('').port).to.equal(8443);
      expect(withFile('# only a comment\n').port).to.equal(8443);
    });
  });
});
