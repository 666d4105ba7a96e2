import path from 'node:path';
import { expect } from 'chai';
import fc from 'fast-check';
import type { NamespaceLookup } from '../../../src/engine/resolve/namespace.js';
import { DEFAULT_ENGINE_SETTINGS, type EngineSettings } from '../../../src/engine/resolve/settings.js';
import type { Pod } from '../../../src/engine/pod/model.js';
import { MAX_SKIP_CONTROLS_ENTRIES, MAX_WRITABLE_PATHS } from '../../../src/engine/pod/limits.js';
import { isControlEnabled, resolvePolicy, type ResolvedPolicy } from '../../../src/engine/resolve/resolve.js';
import { decideNamespace, type NamespaceDecision } from '../../../src/engine/resolve/namespace-decision.js';
import { quoteShort } from '../../../src/engine/resolve/lists.js';
import { unsafeWritablePath } from '../../../src/engine/resolve/writable-paths.js';
import { normaliseMountPath } from '../../../src/engine/pod/mount-path.js';

const P = 'pod-hardener.io';
const NS = { mode: 'enforce', allowOptOut: true, warnings: [] } as const;

function found(labels: Record<string, string>, annotations: Record<string, string> = {}): NamespaceLookup {
  return { kind: 'found', namespace: { labels, annotations } };
}

function podWith(annotations: Record<string, string>, containers = ['app']): Pod {
  return {
    metadata: { annotations },
    spec: {
      initContainers: [{ name: 'init' }],
      containers: containers.map((name) => ({ name })),
      ephemeralContainers: [{ name: 'debug' }],
    },
  };
}

function resolved(
  annotations: Record<string, string>,
  options: { settings?: Partial<EngineSettings>; allowOptOut?: boolean } = {},
): ResolvedPolicy {
  const result = resolvePolicy(
    { ...DEFAULT_ENGINE_SETTINGS, ...options.settings },
    { ...NS, allowOptOut: options.allowOptOut ?? true },
    podWith(annotations),
  );
  if (result.skipPod) throw new Error('pod unexpectedly skipped');
  return result.policy;
}

describe('engine/resolve', () => {
  describe('decideNamespace', () => {
    const optedIn = (extra: Partial<NamespaceDecision> = {}): NamespaceDecision => ({
      optedIn: true,
      mode: 'enforce',
      allowOptOut: true,
      warnings: [],
      ...extra,
    });

    const rows: { name: string; lookup: NamespaceLookup; expected: NamespaceDecision; warns?: string[] }[] = [
      // Without a cluster every review counts as opted in; the namespaceSelector already filtered.
      { name: 'lookups off: opted in with the default mode', lookup: { kind: 'off' }, expected: optedIn() },
      {
        name: 'lookup failed: opted in with the default mode, opt-outs allowed',
        lookup: { kind: 'failed', reason: 'timeout' },
        expected: optedIn(),
      },
      {
        name: 'namespace not found: not opted in',
        lookup: { kind: 'not-found' },
        expected: { optedIn: false },
      },
      { name: 'opt-in label missing', lookup: found({}), expected: { optedIn: false } },
      {
        name: 'opt-in label "false"',
        lookup: found({ [`${P}/enabled`]: 'false' }),
        expected: { optedIn: false },
      },
      {
        name: 'opt-in label "True" is not "true"',
        lookup: found({ [`${P}/enabled`]: 'True' }),
        expected: { optedIn: false },
      },
      {
        name: 'opt-in label as an annotation does not count',
        lookup: found({}, { [`${P}/enabled`]: 'true' }),
        expected: { optedIn: false },
      },
      {
        name: 'opted in, nothing else set',
        lookup: found({ [`${P}/enabled`]: 'true' }),
        expected: optedIn(),
      },
      ...(['enforce', 'warn', 'audit'] as const).map((mode) => ({
        name: `mode annotation ${mode}`,
        lookup: found({ [`${P}/enabled`]: 'true' }, { [`${P}/mode`]: mode }),
        expected: optedIn({ mode }),
      })),
      {
        name: 'mode annotation invalid: default mode and a warning',
        lookup: found({ [`${P}/enabled`]: 'true' }, { [`${P}/mode`]: 'Warn' }),
        expected: optedIn(),
        warns: ['namespace team-a', `${P}/mode="Warn"`, 'using enforce'],
      },
      {
        name: 'allow-opt-out "true"',
        lookup: found({ [`${P}/enabled`]: 'true' }, { [`${P}/allow-opt-out`]: 'true' }),
        expected: optedIn(),
      },
      {
        name: 'allow-opt-out "false"',
        lookup: found({ [`${P}/enabled`]: 'true' }, { [`${P}/allow-opt-out`]: 'false' }),
        expected: optedIn({ allowOptOut: false }),
      },
      {
        // A typo must not silently let pods relax hardening.
        name: 'allow-opt-out garbage: fails closed with a warning',
        lookup: found({ [`${P}/enabled`]: 'true' }, { [`${P}/allow-opt-out`]: 'yes' }),
        expected: optedIn({ allowOptOut: false }),
        warns: [`${P}/allow-opt-out="yes"`, 'opt-outs are not allowed'],
      },
      {
        name: 'allow-opt-out empty string: fails closed',
        lookup: found({ [`${P}/enabled`]: 'true' }, { [`${P}/allow-opt-out`]: '' }),
        expected: optedIn({ allowOptOut: false }),
        warns: ['not "true" or "false"'],
      },
    ];

    for (const row of rows) {
      it(row.name, () => {
        const decision = decideNamespace(row.lookup, 'team-a', DEFAULT_ENGINE_SETTINGS);
        const { warnings, ...rest } = decision.optedIn ? decision : { ...decision, warnings: [] };
        const { warnings: expectedWarnings, ...expectedRest } = row.expected.optedIn
          ? row.expected
          : { ...row.expected, warnings: [] };
        expect(rest).to.deep.equal(expectedRest);
        if (row.warns === undefined) {
          expect(warnings).to.deep.equal(expectedWarnings);
        } else {
          expect(warnings).to.have.length(1);
          for (const part of row.warns) expect(warnings[0]).to.include(part);
        }
      });
    }

    it('uses the configured default mode when lookups are off or the annotation is invalid', () => {
      const settings = { ...DEFAULT_ENGINE_SETTINGS, defaultMode: 'audit' as const };
      expect(decideNamespace({ kind: 'off' }, 'ns', settings)).to.include({ mode: 'audit' });
      const invalid = decideNamespace(
        found({ [`${P}/enabled`]: 'true' }, { [`${P}/mode`]: 'x' }),
        'ns',
        settings,
      );
      expect(invalid).to.include({ optedIn: true, mode: 'audit' });
    });

    it('reads keys under a custom prefix and ignores the default one', () => {
      const settings = { ...DEFAULT_ENGINE_SETTINGS, annotationPrefix: 'hardening.example.com' };
      expect(decideNamespace(found({ [`${P}/enabled`]: 'true' }), 'ns', settings)).to.deep.equal({
        optedIn: false,
      });
      const decision = decideNamespace(
        found({ 'hardening.example.com/enabled': 'true' }, { 'hardening.example.com/mode': 'warn' }),
        'ns',
        settings,
      );
      expect(decision).to.deep.equal({ optedIn: true, mode: 'warn', allowOptOut: true, warnings: [] });
    });

    it('cuts a long garbage value short in the warning', () => {
      const decision = decideNamespace(
        found({ [`${P}/enabled`]: 'true' }, { [`${P}/mode`]: 'x'.repeat(5000) }),
        'ns',
        DEFAULT_ENGINE_SETTINGS,
      );
      expect(decision.optedIn && decision.warnings[0]!.length).to.be.below(200);
    });
  });

  describe('resolvePolicy', () => {
    it('resolves configuration defaults for a pod without annotations', () => {
      const policy = resolved({});
      expect(policy.mode).to.equal('enforce');
      expect(policy.keys.changes).to.equal(`${P}/changes`);
      expect([...policy.disabledControls]).to.deep.equal([]);
      expect([...policy.disabledForContainer]).to.deep.equal([]);
      expect(policy).to.include({ runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532 });
      expect(policy.writablePaths).to.deep.equal(['/tmp']);
      expect(policy.writableVolumeSizeLimit).to.equal('256Mi');
      expect(policy.resources).to.deep.equal(DEFAULT_ENGINE_SETTINGS.resources);
      expect(policy.optOuts).to.deep.equal([]);
      expect(policy.warnings).to.deep.equal([]);
    });

    it('carries the namespace mode and warnings', () => {
      const result = resolvePolicy(
        DEFAULT_ENGINE_SETTINGS,
        { mode: 'warn', allowOptOut: true, warnings: ['from namespace'] },
        podWith({}),
      );
      expect(result.skipPod).to.equal(false);
      if (!result.skipPod) {
        expect(result.policy.mode).to.equal('warn');
        expect(result.policy.warnings).to.deep.equal(['from namespace']);
      }
    });

    it('keeps controls disabled in configuration, without counting them as opt-outs', () => {
      const policy = resolved({}, { settings: { disabledControls: ['default-resources'] } });
      expect([...policy.disabledControls]).to.deep.equal(['default-resources']);
      expect(policy.optOuts).to.deep.equal([]);
    });

    describe('skip', () => {
      it('"true" skips the pod and records the opt-out', () => {
        const result = resolvePolicy(DEFAULT_ENGINE_SETTINGS, NS, podWith({ [`${P}/skip`]: 'true' }));
        expect(result).to.deep.equal({ skipPod: true, optOuts: [`${P}/skip`] });
      });

      it('"false" does nothing, quietly', () => {
        const policy = resolved({ [`${P}/skip`]: 'false' });
        expect(policy.warnings).to.deep.equal([]);
        expect(policy.optOuts).to.deep.equal([]);
      });

      for (const garbage of ['TRUE', 'yes', '1', '']) {
        it(`${JSON.stringify(garbage)} is ignored with a warning`, () => {
          const policy = resolved({ [`${P}/skip`]: garbage });
          expect(policy.warnings).to.have.length(1);
          expect(policy.warnings[0]).to.include(`${P}/skip=${JSON.stringify(garbage)} ignored`);
        });
      }
    });

    describe('skip-controls', () => {
      it('pod-wide entries disable the control for every container, in annotation order', () => {
        const policy = resolved({ [`${P}/skip-controls`]: 'seccomp-runtime-default, run-as-non-root' });
        expect([...policy.disabledControls]).to.deep.equal(['seccomp-runtime-default', 'run-as-non-root']);
        expect(policy.optOuts).to.deep.equal(['seccomp-runtime-default', 'run-as-non-root']);
        expect(isControlEnabled(policy, 'run-as-non-root')).to.equal(false);
        expect(isControlEnabled(policy, 'run-as-non-root', 'app')).to.equal(false);
        expect(isControlEnabled(policy, 'default-resources', 'app')).to.equal(true);
        expect(policy.warnings).to.deep.equal([]);
      });

      it('container/control entries disable one control for one container only', () => {
        const policy = resolved({
          [`${P}/skip-controls`]: 'app/drop-all-capabilities,init/default-resources',
        });
        expect([...policy.disabledControls]).to.deep.equal([]);
        expect(isControlEnabled(policy, 'drop-all-capabilities', 'app')).to.equal(false);
        expect(isControlEnabled(policy, 'drop-all-capabilities', 'init')).to.equal(true);
        expect(isControlEnabled(policy, 'drop-all-capabilities')).to.equal(true);
        expect(isControlEnabled(policy, 'default-resources', 'init')).to.equal(false);
        expect(policy.optOuts).to.deep.equal(['app/drop-all-capabilities', 'init/default-resources']);
        expect(policy.warnings).to.deep.equal([]);
      });

      it('knows ephemeral container names too', () => {
        const policy = resolved({ [`${P}/skip-controls`]: 'debug/run-as-non-root' });
        expect(isControlEnabled(policy, 'run-as-non-root', 'debug')).to.equal(false);
        expect(policy.warnings).to.deep.equal([]);
      });

      it('records a repeated entry once, and ignores empty list items', () => {
        const policy = resolved({ [`${P}/skip-controls`]: ' run-as-non-root,,run-as-non-root , ' });
        expect(policy.optOuts).to.deep.equal(['run-as-non-root']);
        expect(policy.warnings).to.deep.equal([]);
      });

      it('warns about an unknown control id and ignores it', () => {
        const policy = resolved({ [`${P}/skip-controls`]: 'no-root,app/Run-As-Non-Root,run-as-non-root' });
        expect(policy.optOuts).to.deep.equal(['run-as-non-root']);
        expect(policy.disabledForContainer.size).to.equal(0);
        expect(policy.warnings).to.deep.equal([
          `${P}/skip-controls: unknown control "no-root" ignored`,
          `${P}/skip-controls: unknown control "Run-As-Non-Root" ignored`,
        ]);
      });

      // Kept rather than dropped: a later webhook (Istio, on reinvocation) may add that container.
      it('warns about an unknown container but keeps the opt-out for it', () => {
        const policy = resolved({ [`${P}/skip-controls`]: 'istio-proxy/run-as-non-root' });
        expect(policy.warnings).to.deep.equal([
          `${P}/skip-controls: no container named "istio-proxy" in this pod`,
        ]);
        expect(isControlEnabled(policy, 'run-as-non-root', 'istio-proxy')).to.equal(false);
        expect(policy.optOuts).to.deep.equal(['istio-proxy/run-as-non-root']);
      });
    });

    describe('allow-opt-out false', () => {
      it('ignores skip: "true" with a warning', () => {
        const result = resolvePolicy(
          DEFAULT_ENGINE_SETTINGS,
          { ...NS, allowOptOut: false },
          podWith({ [`${P}/skip`]: 'true' }),
        );
        expect(result.skipPod).to.equal(false);
        if (!result.skipPod) {
          expect(result.policy.warnings).to.deep.equal([
            `${P}/skip ignored: this namespace does not allow opt-outs`,
          ]);
          expect(result.policy.optOuts).to.deep.equal([]);
        }
      });

      it('ignores skip-controls with a warning', () => {
        const policy = resolved(
          { [`${P}/skip-controls`]: 'run-as-non-root,app/default-resources' },
          { allowOptOut: false },
        );
        expect([...policy.disabledControls]).to.deep.equal([]);
        expect(policy.disabledForContainer.size).to.equal(0);
        expect(policy.optOuts).to.deep.equal([]);
        expect(policy.warnings).to.deep.equal([
          `${P}/skip-controls ignored: this namespace does not allow opt-outs`,
        ]);
      });

      it('warns about both annotations, and still honours configuration-disabled controls', () => {
        const policy = resolved(
          { [`${P}/skip`]: 'true', [`${P}/skip-controls`]: 'run-as-non-root' },
          { allowOptOut: false, settings: { disabledControls: ['default-resources'] } },
        );
        expect(policy.warnings).to.have.length(2);
        expect([...policy.disabledControls]).to.deep.equal(['default-resources']);
      });
    });

    describe('run-as-user', () => {
      const valid: [string, number][] = [
        ['1000', 1000],
        ['1', 1],
        ['2147483647', 2147483647],
      ];
      for (const [value, uid] of valid) {
        it(`${JSON.stringify(value)} is used`, () => {
          const policy = resolved({ [`${P}/run-as-user`]: value });
          expect(policy.runAsUser).to.equal(uid);
          expect(policy.runAsGroup, 'group stays configured').to.equal(65532);
          expect(policy.warnings).to.deep.equal([]);
        });
      }

      // 0 would be root; the others are not UIDs the API accepts or are ambiguous spellings.
      for (const value of [
        '0',
        '-1',
        'abc',
        '2147483648',
        '99999999999',
        '01000',
        '1e3',
        ' 1000',
        '1000.0',
        '',
      ]) {
        it(`${JSON.stringify(value)} falls back to the configured UID with a warning`, () => {
          const policy = resolved({ [`${P}/run-as-user`]: value });
          expect(policy.runAsUser).to.equal(65532);
          expect(policy.warnings).to.have.length(1);
          expect(policy.warnings[0]).to.include('is not a positive integer UID; using 65532');
        });
      }

      it('falls back to a configured UID other than the default', () => {
        const policy = resolved({ [`${P}/run-as-user`]: '0' }, { settings: { runAsUser: 4242 } });
        expect(policy.runAsUser).to.equal(4242);
        expect(policy.warnings[0]).to.include('using 4242');
      });
    });

    describe('writable-paths', () => {
      const rows: { value: string; paths: string[]; warnings?: number }[] = [
        { value: '/var/run/', paths: ['/tmp', '/var/run'] },
        { value: '/var/cache/nginx,/var/run', paths: ['/tmp', '/var/cache/nginx', '/var/run'] },
        { value: ' /var/cache/nginx , , /var/run ', paths: ['/tmp', '/var/cache/nginx', '/var/run'] },
        { value: '//var//run', paths: ['/tmp', '/var/run'] },
        { value: '/a/./b', paths: ['/tmp', '/a/b'] },
        { value: '/var/run,/var/run/,/var/run', paths: ['/tmp', '/var/run'] },
        { value: '/tmp', paths: ['/tmp'] },
        { value: '/tmp/', paths: ['/tmp'] },
        { value: 'relative', paths: ['/tmp'], warnings: 1 },
        { value: 'var/run', paths: ['/tmp'], warnings: 1 },
        { value: '/a/../b', paths: ['/tmp'], warnings: 1 },
        { value: '/a/..', paths: ['/tmp'], warnings: 1 },
        { value: '/', paths: ['/tmp'], warnings: 1 },
        { value: '/c:/data', paths: ['/tmp'], warnings: 1 },
        { value: `/${'a'.repeat(1024)}`, paths: ['/tmp'], warnings: 1 },
        { value: 'relative,/data,/x/../y', paths: ['/tmp', '/data'], warnings: 2 },
      ];
      for (const row of rows) {
        it(JSON.stringify(row.value.length > 40 ? `${row.value.slice(0, 40)}...` : row.value), () => {
          const policy = resolved({ [`${P}/writable-paths`]: row.value });
          expect(policy.writablePaths).to.deep.equal(row.paths);
          expect(policy.warnings).to.have.length(row.warnings ?? 0);
          for (const warning of policy.warnings) expect(warning).to.include('not an absolute path below /');
        });
      }
    });

    describe('writable-paths that would break or weaken the container', () => {
      const refused = [
        '/proc',
        '/proc/sys',
        '/sys',
        '/sys/fs/cgroup',
        '/dev',
        '/dev/shm',
        '/etc',
        '/usr',
        '/bin',
        '/lib64',
        '/etc/hosts',
        '/etc/resolv.conf',
        '/var/run/secrets',
        '/var/run/secrets/kubernetes.io',
        '/var/run/secrets/kubernetes.io/serviceaccount',
        '/var/run/secrets/kubernetes.io/serviceaccount/token',
        '/run/secrets/kubernetes.io/serviceaccount',
      ];
      for (const path of refused) {
        it(`${path} is refused with a warning`, () => {
          const policy = resolved({ [`${P}/writable-paths`]: `${path},/data` });
          expect(policy.writablePaths).to.deep.equal(['/tmp', '/data']);
          expect(policy.warnings).to.have.length(1);
          expect(policy.warnings[0]).to.include(quoteShort(path)).and.include('ignored');
        });
      }
      for (const path of ['/var/run', '/run', '/etc/nginx', '/usr/local/app/cache', '/devices', '/process']) {
        it(`${path} is allowed`, () => {
          expect(unsafeWritablePath(path)).to.equal(undefined);
        });
      }
    });

    describe('list caps', () => {
      it(`reads at most ${MAX_WRITABLE_PATHS} writable-paths entries and warns once about the rest`, () => {
        const value = Array.from({ length: 20_000 }, (_, i) => `/p${i}`).join(',');
        const policy = resolved({ [`${P}/writable-paths`]: value });
        expect(policy.writablePaths).to.have.length(MAX_WRITABLE_PATHS + 1);
        expect(policy.writablePaths.at(-1)).to.equal(`/p${MAX_WRITABLE_PATHS - 1}`);
        expect(policy.warnings).to.deep.equal([
          `${P}/writable-paths: only the first ${MAX_WRITABLE_PATHS} entries are read; the rest are ignored`,
        ]);
      });

      it(`reads at most ${MAX_SKIP_CONTROLS_ENTRIES} skip-controls entries; the rest stay hardened`, () => {
        const value = Array.from({ length: 12_000 }, (_, i) => `c${i}/default-resources`).join(',');
        const policy = resolved({ [`${P}/skip-controls`]: `${value},run-as-non-root` });
        expect(policy.optOuts).to.have.length(MAX_SKIP_CONTROLS_ENTRIES);
        expect(policy.disabledControls.has('run-as-non-root')).to.equal(false);
        expect(policy.warnings[0]).to.equal(
          `${P}/skip-controls: only the first ${MAX_SKIP_CONTROLS_ENTRIES} entries are read; the rest are ignored`,
        );
      });
    });

    describe('the changes record', () => {
      const record = JSON.stringify([
        { control: 'run-as-non-root', target: 'pod', path: '/spec/x', value: 1 },
      ]);
      it('is read only when the review verified its seal', () => {
        const pod = podWith({ [`${P}/changes`]: record });
        const trusted = resolvePolicy(DEFAULT_ENGINE_SETTINGS, NS, pod, true);
        const untrusted = resolvePolicy(DEFAULT_ENGINE_SETTINGS, NS, pod);
        if (trusted.skipPod || untrusted.skipPod) throw new Error('not skipped');
        expect(trusted.policy.earlierChanges.entries).to.have.length(1);
        expect(trusted.policy.recordTrusted).to.equal(true);
        expect(untrusted.policy.earlierChanges.entries).to.have.length(0);
        expect(untrusted.policy.recordTrusted).to.equal(false);
      });
    });

    it('reads every pod annotation under a custom annotationPrefix, and ignores the default prefix', () => {
      const prefix = 'hardening.example.com';
      const policy = resolved(
        {
          [`${prefix}/run-as-user`]: '1234',
          [`${prefix}/writable-paths`]: '/cache',
          [`${prefix}/skip-controls`]: 'default-resources',
          [`${P}/run-as-user`]: '999',
          [`${P}/skip`]: 'true',
        },
        { settings: { annotationPrefix: prefix } },
      );
      expect(policy.runAsUser).to.equal(1234);
      expect(policy.writablePaths).to.deep.equal(['/tmp', '/cache']);
      expect([...policy.disabledControls]).to.deep.equal(['default-resources']);
      expect(policy.keys.changes).to.equal(`${prefix}/changes`);
      expect(policy.keys.optOuts).to.equal(`${prefix}/opt-outs`);
      expect(policy.warnings).to.deep.equal([]);

      const skipped = resolvePolicy(
        { ...DEFAULT_ENGINE_SETTINGS, annotationPrefix: prefix },
        NS,
        podWith({ [`${prefix}/skip`]: 'true' }),
      );
      expect(skipped).to.deep.equal({ skipPod: true, optOuts: [`${prefix}/skip`] });
    });
  });

  describe('normaliseMountPath', () => {
    const rows: [string, string | undefined][] = [
      ['/tmp', '/tmp'],
      ['/tmp///', '/tmp'],
      ['/a//b/./c/', '/a/b/c'],
      ['/', undefined],
      ['', undefined],
      ['tmp', undefined],
      ['/a/../b', undefined],
      ['/..', undefined],
      ['/a:b', undefined],
      ['/a\0b', undefined],
      ['/...', '/...'],
      ['/a..b', '/a..b'],
    ];
    for (const [raw, expected] of rows) {
      it(`${JSON.stringify(raw)} -> ${String(expected)}`, () => {
        expect(normaliseMountPath(raw)).to.equal(expected);
      });
    }

    it('returns what path.posix.normalize would, fast path or not, for any path of /, . and a', () => {
      const byNormalize = (raw: string): string | undefined => {
        if (!raw.startsWith('/')) return undefined;
        if (raw.split('/').includes('..')) return undefined;
        const normalised = path.posix.normalize(raw).replace(/\/+$/, '');
        return normalised === '' ? undefined : normalised;
      };
      const pathText = fc
        .array(fc.constantFrom('/', '.', 'a'), { maxLength: 12 })
        .map((parts) => `/${parts.join('')}`);
      fc.assert(
        fc.property(pathText, (raw) => {
          expect(normaliseMountPath(raw), raw).to.equal(byNormalize(raw));
        }),
        { numRuns: 2000 },
      );
    });
  });

  describe('quoteShort', () => {
    it('quotes as JSON and cuts long values', () => {
      expect(quoteShort('ab"c')).to.equal('"ab\\"c"');
      expect(quoteShort('x'.repeat(41))).to.equal(JSON.stringify(`${'x'.repeat(40)}...`));
      expect(quoteShort('x'.repeat(40))).to.equal(JSON.stringify('x'.repeat(40)));
    });
  });
});
