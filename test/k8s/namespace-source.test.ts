import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NamespaceLookup } from '../../src/engine/resolve/namespace.js';
import { backoffDelayMs } from '../../src/k8s/backoff.js';
import {
  NOT_FOUND_TTL_MS,
  foundLookup,
  isValidNamespaceName,
  lookupFromError,
  planLookup,
  toNamespaceInfo,
} from '../../src/k8s/namespace-lookup.js';
import {
  createNamespaceSource,
  type NamespaceSourceOptions,
  type StoppableNamespaceSource,
} from '../../src/k8s/namespace-source.js';
import { SourceStoppedError, TimeoutError, describeError, withTimeout } from '../../src/k8s/requests.js';
import { waitFor } from '../support/wait.js';

const TOKEN = 'token-that-must-never-be-logged';

interface LogLine {
  level: 'info' | 'warn' | 'error';
  msg: string;
  meta: object | undefined;
}

function recorder() {
  const lines: LogLine[] = [];
  let failures = 0;
  let watchRestarts = 0;
  const logger = {
    info: (msg: string, meta?: object) => lines.push({ level: 'info', msg, meta }),
    warn: (msg: string, meta?: object) => lines.push({ level: 'warn', msg, meta }),
    error: (msg: string, meta?: object) => lines.push({ level: 'error', msg, meta }),
  };
  return {
    lines,
    logger,
    onLookupFailure: () => {
      failures += 1;
    },
    failures: () => failures,
    onWatchRestart: () => {
      watchRestarts += 1;
    },
    watchRestarts: () => watchRestarts,
  };
}

/** Ref'd timers: exactly what would keep mocha (run without --exit) from finishing. */
function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

/**
 * Mocha arms its own per-test timer only once an async test has returned its promise, so a baseline is
 * taken after yielding once.
 */
async function baselineTimers(): Promise<number> {
  await new Promise((r) => setImmediate(r));
  return activeTimers();
}

function kubeconfig(dir: string, server: string): string {
  const path = join(dir, 'kubeconfig');
  writeFileSync(
    path,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: test',
      '  cluster:',
      `    server: ${server}`,
      '    insecure-skip-tls-verify: true',
      'users:',
      '- name: test',
      '  user:',
      `    token: ${TOKEN}`,
      'contexts:',
      '- name: test',
      '  context:',
      '    cluster: test',
      '    user: test',
      'current-context: test',
      '',
    ].join('\n'),
  );
  return path;
}

describe('k8s/namespace-source', () => {
  describe('toNamespaceInfo', () => {
    it('copies labels and annotations', () => {
      const info = toNamespaceInfo({
        metadata: { name: 'a', labels: { team: 'x' }, annotations: { 'example.com/mode': 'enforce' } },
      });
      expect(info).to.deep.equal({ labels: { team: 'x' }, annotations: { 'example.com/mode': 'enforce' } });
    });

    it('gives empty objects when metadata, labels or annotations are absent', () => {
      const empty = { labels: {}, annotations: {} };
      expect(toNamespaceInfo(undefined)).to.deep.equal(empty);
      expect(toNamespaceInfo({})).to.deep.equal(empty);
      expect(toNamespaceInfo({ metadata: { name: 'a' } })).to.deep.equal(empty);
    });

    it('does not alias the source object and is frozen', () => {
      const labels: Record<string, string> = { team: 'x' };
      const info = toNamespaceInfo({ metadata: { labels } });
      labels.team = 'y';
      labels.extra = 'z';
      expect(info.labels).to.deep.equal({ team: 'x' });
      expect(Object.isFrozen(info)).to.equal(true);
      expect(Object.isFrozen(info.labels)).to.equal(true);
      expect(Object.isFrozen(info.annotations)).to.equal(true);
    });

    it('drops non-string values that raw watch JSON could carry', () => {
      const metadata = { labels: { ok: 'v', n: 1, o: { x: 1 }, nil: null } } as unknown as { labels: never };
      expect(toNamespaceInfo({ metadata }).labels).to.deep.equal({ ok: 'v' });
    });

    it('foundLookup wraps it as a found result', () => {
      expect(foundLookup({ metadata: { labels: { a: 'b' } } })).to.deep.equal({
        kind: 'found',
        namespace: { labels: { a: 'b' }, annotations: {} },
      });
    });
  });

  describe('isValidNamespaceName', () => {
    const cases: [string, boolean][] = [
      ['default', true],
      ['kube-system', true],
      ['a', true],
      ['0abc9', true],
      ['a'.repeat(63), true],
      ['a'.repeat(64), false],
      ['', false],
      ['-a', false],
      ['a-', false],
      ['Upper', false],
      ['a.b', false],
      ['a/b', false],
      ['../x', false],
    ];
    for (const [name, valid] of cases) {
      it(`${JSON.stringify(name.length > 20 ? `${name.slice(0, 8)}...(${name.length})` : name)} -> ${valid}`, () => {
        expect(isValidNamespaceName(name)).to.equal(valid);
      });
    }
  });

  describe('backoffDelayMs', () => {
    it('doubles from 1s and caps at 30s', () => {
      expect([0, 1, 2, 3, 4, 5, 6, 50, 10_000].map((a) => backoffDelayMs(a))).to.deep.equal([
        1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000,
      ]);
    });

    it('treats nonsense attempts as the first one', () => {
      expect(backoffDelayMs(-3)).to.equal(1000);
      expect(backoffDelayMs(Number.NaN)).to.equal(1000);
      expect(backoffDelayMs(Number.POSITIVE_INFINITY)).to.equal(1000);
      expect(backoffDelayMs(1.7)).to.equal(2000);
    });

    it('honours a custom base and cap', () => {
      expect([0, 1, 2, 3].map((a) => backoffDelayMs(a, 100, 500))).to.deep.equal([100, 200, 400, 500]);
    });
  });

  describe('withTimeout', () => {
    it('resolves with the value and clears its timer', async () => {
      const before = await baselineTimers();
      expect(await withTimeout(1000, () => Promise.resolve(42))).to.equal(42);
      expect(activeTimers()).to.equal(before);
    });

    it('passes through a rejection', async () => {
      const err = await withTimeout(1000, () => Promise.reject(new Error('boom'))).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(Error).with.property('message', 'boom');
    });

    it('turns a synchronous throw into a rejection', async () => {
      const err = await withTimeout(1000, () => {
        throw new Error('sync');
      }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(Error).with.property('message', 'sync');
    });

    it('settles at the deadline even if the work ignores the signal, and aborts the signal', async () => {
      let seen: AbortSignal | undefined;
      const started = Date.now();
      const err = await withTimeout(50, (signal) => {
        seen = signal;
        return new Promise<never>(() => undefined);
      }).catch((e: unknown) => e);
      const elapsed = Date.now() - started;
      expect(err).to.be.instanceOf(TimeoutError).with.property('timeoutMs', 50);
      expect((err as Error).message).to.equal('timed out after 50ms');
      expect(elapsed).to.be.within(40, 1000);
      expect(seen?.aborted).to.equal(true);
      expect(seen?.reason).to.equal(err);
    });

    it('rejects when the outer signal aborts and leaves no timer behind', async () => {
      const before = await baselineTimers();
      const outer = new AbortController();
      const pending = withTimeout(10_000, () => new Promise<never>(() => undefined), outer.signal);
      expect(activeTimers()).to.equal(before + 1);
      outer.abort(new SourceStoppedError());
      const err = await pending.catch((e: unknown) => e);
      expect(err).to.be.instanceOf(SourceStoppedError);
      expect(activeTimers()).to.equal(before);
    });

    it('does not start the work when the outer signal is already aborted', async () => {
      const outer = new AbortController();
      outer.abort(new SourceStoppedError());
      let called = false;
      const err = await withTimeout(
        1000,
        () => {
          called = true;
          return Promise.resolve(1);
        },
        outer.signal,
      ).catch((e: unknown) => e);
      expect(called).to.equal(false);
      expect(err).to.be.instanceOf(SourceStoppedError);
    });

    it('ignores a late result after the deadline', async () => {
      let finish: (v: number) => void = () => undefined;
      const pending = withTimeout(
        20,
        () =>
          new Promise<number>((r) => {
            finish = r;
          }),
      );
      const err = await pending.catch((e: unknown) => e);
      finish(7);
      expect(err).to.be.instanceOf(TimeoutError);
    });
  });

  describe('planLookup', () => {
    const now = 1_000_000;
    const hit = foundLookup({ metadata: { labels: { a: 'b' } } });
    const pending = Promise.resolve<NamespaceLookup>({ kind: 'not-found' });
    const none = { cached: undefined, notFoundUntil: undefined, inFlight: undefined };

    it('answers from the cache first, even over a recent 404 or a GET in flight', () => {
      expect(
        planLookup('a', { cached: hit, notFoundUntil: now + 500, inFlight: pending }, now),
      ).to.deep.equal({
        kind: 'answer',
        lookup: hit,
      });
    });

    it('answers not-found for a name that cannot exist, without asking', () => {
      expect(planLookup('Not_Valid', none, now)).to.deep.equal({
        kind: 'answer',
        lookup: { kind: 'not-found' },
      });
      expect(planLookup('', none, now)).to.deep.equal({ kind: 'answer', lookup: { kind: 'not-found' } });
    });

    it('trusts a 404 only until it expires', () => {
      expect(planLookup('a', { ...none, notFoundUntil: now + 1 }, now)).to.deep.equal({
        kind: 'answer',
        lookup: { kind: 'not-found' },
      });
      expect(planLookup('a', { ...none, notFoundUntil: now }, now)).to.deep.equal({ kind: 'fetch' });
      expect(planLookup('a', { ...none, notFoundUntil: now - NOT_FOUND_TTL_MS }, now)).to.deep.equal({
        kind: 'fetch',
      });
    });

    it('joins a GET already in flight', () => {
      const plan = planLookup('a', { ...none, inFlight: pending }, now);
      expect(plan.kind).to.equal('join');
      expect(plan.kind === 'join' && plan.pending).to.equal(pending);
    });

    it('fetches on a plain miss', () => {
      expect(planLookup('a', none, now)).to.deep.equal({ kind: 'fetch' });
    });

    it('keeps the negative TTL short', () => {
      expect(NOT_FOUND_TTL_MS).to.be.at.most(5000);
    });
  });

  describe('describeError / lookupFromError', () => {
    it('maps 404 to not-found', () => {
      expect(lookupFromError({ code: 404, message: 'HTTP-Code: 404' })).to.deep.equal({ kind: 'not-found' });
    });

    it('reports API errors by status only, never their body or headers', () => {
      const apiError = Object.assign(new Error('HTTP-Code: 403\nMessage: Forbidden\nBody: {"secret":"s3"}'), {
        code: 403,
      });
      expect(lookupFromError(apiError)).to.deep.equal({ kind: 'failed', reason: 'HTTP 403' });
      expect(describeError(Object.assign(new Error('Internal Server Error'), { statusCode: 500 }))).to.equal(
        'HTTP 500',
      );
    });

    it('reports system errors by code', () => {
      const fetchError = Object.assign(new Error('request to https://10.0.0.1/api failed, reason: ...'), {
        code: 'ECONNREFUSED',
      });
      expect(lookupFromError(fetchError)).to.deep.equal({ kind: 'failed', reason: 'ECONNREFUSED' });
    });

    it('reports timeouts and stops in words', () => {
      expect(lookupFromError(new TimeoutError(250))).to.deep.equal({
        kind: 'failed',
        reason: 'timed out after 250ms',
      });
      expect(describeError(new SourceStoppedError())).to.equal('namespace source stopped');
    });

    it('keeps free-text reasons to one short line', () => {
      const reason = describeError(new Error(`${'x'.repeat(300)}\nsecond line`));
      expect(reason).to.have.length.at.most(120);
      expect(reason).not.to.include('second line');
      expect(describeError(Object.assign(new Error('gone'), { name: 'AbortError' }))).to.equal('aborted');
      expect(describeError(undefined)).to.equal('unknown error');
      expect(describeError({})).to.equal('unknown error');
    });
  });

  describe('createNamespaceSource', () => {
    let dir: string;
    let source: StoppableNamespaceSource | undefined;

    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'pod-hardener-ns-'));
    });

    afterEach(() => {
      source?.stop();
      source = undefined;
      rmSync(dir, { recursive: true, force: true });
    });

    function options(
      cluster: NamespaceSourceOptions['cluster'],
      rec: ReturnType<typeof recorder>,
      lookupTimeoutMs = 1000,
    ): NamespaceSourceOptions {
      return {
        cluster,
        lookupTimeoutMs,
        logger: rec.logger,
        onLookupFailure: rec.onLookupFailure,
        onWatchRestart: rec.onWatchRestart,
      };
    }

    describe("'off'", () => {
      it('answers off, is synced, and stop() is a no-op', async () => {
        const rec = recorder();
        const before = await baselineTimers();
        source = await createNamespaceSource(options({ kind: 'off' }, rec));
        expect(await source.lookup('anything')).to.deep.equal({ kind: 'off' });
        expect(source.synced()).to.equal(true);
        source.stop();
        source.stop();
        expect(await source.lookup('anything')).to.deep.equal({ kind: 'off' });
        expect(rec.lines).to.deep.equal([]);
        expect(rec.failures()).to.equal(0);
        expect(activeTimers()).to.equal(before);
      });
    });

    describe('configuration errors', () => {
      it('rejects for a missing kubeconfig file', async () => {
        const path = join(dir, 'absent');
        const err = await createNamespaceSource(options({ kind: 'kubeconfig', path }, recorder())).catch(
          (e: unknown) => e,
        );
        expect(err).to.be.instanceOf(Error);
        expect((err as Error).message).to.equal(`cannot load kubeconfig ${path}: ENOENT`);
      });

      it('rejects for invalid YAML without echoing the file', async () => {
        const path = join(dir, 'kubeconfig');
        writeFileSync(path, `users:\n- name: x\n  user: {token: ${TOKEN}\n`);
        const err = await createNamespaceSource(options({ kind: 'kubeconfig', path }, recorder())).catch(
          (e: unknown) => e,
        );
        expect(err).to.be.instanceOf(Error);
        expect((err as Error).message).to.match(/^cannot load kubeconfig .*: invalid YAML/);
        expect((err as Error).message).not.to.include(TOKEN);
      });

      it('rejects for a file that is not a kubeconfig', async () => {
        const path = join(dir, 'kubeconfig');
        writeFileSync(path, '');
        const err = await createNamespaceSource(options({ kind: 'kubeconfig', path }, recorder())).catch(
          (e: unknown) => e,
        );
        expect((err as Error).message).to.equal(`cannot load kubeconfig ${path}: not a kubeconfig document`);
      });

      it('rejects for a kubeconfig without a current cluster', async () => {
        const path = join(dir, 'kubeconfig');
        writeFileSync(path, 'apiVersion: v1\nkind: Config\nclusters: []\n');
        const err = await createNamespaceSource(options({ kind: 'kubeconfig', path }, recorder())).catch(
          (e: unknown) => e,
        );
        expect((err as Error).message).to.match(/has no usable current cluster/);
      });

      it('rejects in-cluster mode outside a pod', async () => {
        const saved = {
          host: process.env.KUBERNETES_SERVICE_HOST,
          port: process.env.KUBERNETES_SERVICE_PORT,
        };
        delete process.env.KUBERNETES_SERVICE_HOST;
        delete process.env.KUBERNETES_SERVICE_PORT;
        try {
          const err = await createNamespaceSource(options({ kind: 'in-cluster' }, recorder())).catch(
            (e: unknown) => e,
          );
          expect((err as Error).message).to.match(/KUBERNETES_SERVICE_HOST/);
        } finally {
          if (saved.host !== undefined) process.env.KUBERNETES_SERVICE_HOST = saved.host;
          if (saved.port !== undefined) process.env.KUBERNETES_SERVICE_PORT = saved.port;
        }
      });
    });

    describe('unreachable cluster (connection refused)', () => {
      const informerFailed = (rec: ReturnType<typeof recorder>) => () =>
        rec.lines.some((l) => l.level === 'warn' && l.msg.startsWith('namespace informer failed'));

      it('resolves at once, answers failed, reports each failed GET once, and stays unsynced', async () => {
        const rec = recorder();
        const path = kubeconfig(dir, 'https://127.0.0.1:1');
        const timeoutMs = 1000;
        source = await createNamespaceSource(options({ kind: 'kubeconfig', path }, rec, timeoutMs));
        expect(source.synced()).to.equal(false);

        const started = Date.now();
        const [a, b] = await Promise.all([source.lookup('team-a'), source.lookup('team-a')]);
        expect(Date.now() - started).to.be.below(timeoutMs + 500);
        expect(a).to.deep.equal({ kind: 'failed', reason: 'ECONNREFUSED' });
        expect(b).to.equal(a);
        expect(rec.failures()).to.equal(1);
        const warn = rec.lines.find((l) => l.msg === 'namespace lookup failed');
        expect(warn?.level).to.equal('warn');
        expect(warn?.meta).to.include({ namespace: 'team-a', reason: 'ECONNREFUSED' });

        // Once settled, a GET is not reused: the next review asks again.
        expect(await source.lookup('team-a')).to.deep.equal({ kind: 'failed', reason: 'ECONNREFUSED' });
        expect(rec.failures()).to.equal(2);

        // An impossible name is answered without a request and is not a failure.
        expect(await source.lookup('Not_A_Namespace')).to.deep.equal({ kind: 'not-found' });
        expect(rec.failures()).to.equal(2);

        await waitFor(informerFailed(rec), 'the informer failure to be logged', 5000);
        const informerWarn = rec.lines.find((l) => l.msg.startsWith('namespace informer failed'));
        expect(informerWarn?.level).to.equal('warn');
        expect(informerWarn?.meta).to.include({ reason: 'ECONNREFUSED', retryInMs: 1000, synced: false });
        expect(source.synced()).to.equal(false);

        expect(JSON.stringify(rec.lines)).not.to.include(TOKEN);
        expect(rec.lines.filter((l) => l.level === 'error')).to.deep.equal([]);
      });

      it('keeps restarting the informer with a growing delay', async () => {
        const rec = recorder();
        const path = kubeconfig(dir, 'https://127.0.0.1:1');
        source = await createNamespaceSource(options({ kind: 'kubeconfig', path }, rec));
        const restarts = () => rec.lines.filter((l) => l.msg.startsWith('namespace informer failed'));
        await waitFor(() => restarts().length >= 2, 'a second informer failure', 5000);
        expect(restarts().map((l) => (l.meta as { retryInMs: number }).retryInMs)).to.deep.equal([
          1000, 2000,
        ]);
        // One count per logged restart: this is what pod_hardener_namespace_watch_restarts_total reads.
        expect(rec.watchRestarts()).to.equal(restarts().length);
        expect(source.synced()).to.equal(false);
      });

      it('stop() cancels the pending restart and leaves no timer running', async () => {
        const rec = recorder();
        const path = kubeconfig(dir, 'https://127.0.0.1:1');
        const before = await baselineTimers();
        source = await createNamespaceSource(options({ kind: 'kubeconfig', path }, rec));
        await waitFor(informerFailed(rec), 'the informer failure to be logged', 5000);
        // The restart timer is what would otherwise keep the process alive.
        expect(activeTimers()).to.equal(before + 1);

        source.stop();
        expect(activeTimers()).to.equal(before);
        source.stop();

        // After stop() a miss fails at once instead of starting a request.
        expect(await source.lookup('team-a')).to.deep.equal({
          kind: 'failed',
          reason: 'namespace source stopped',
        });
        await new Promise((r) => setTimeout(r, 1200));
        expect(rec.lines.filter((l) => l.msg.startsWith('namespace informer failed'))).to.have.length(1);
        expect(activeTimers()).to.equal(before);
      });
    });

    describe('hung API server (TCP listener that never answers)', () => {
      let server: Server;
      let sockets: Set<Socket>;
      let accepted: number;

      beforeEach(async () => {
        sockets = new Set();
        accepted = 0;
        server = createServer((socket) => {
          accepted += 1;
          sockets.add(socket);
          // Without reading, the server would never notice the client closing its end.
          socket.resume();
          socket.on('close', () => sockets.delete(socket));
          socket.on('error', () => undefined);
        });
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      });

      afterEach(async () => {
        for (const s of sockets) s.destroy();
        await new Promise((r) => server.close(r));
      });

      it('fails a lookup at the timeout, shares one GET, and stop() closes every connection', async () => {
        const address = server.address();
        if (address === null || typeof address === 'string') throw new Error('no port');
        const rec = recorder();
        const path = kubeconfig(dir, `https://127.0.0.1:${address.port}`);
        const timeoutMs = 300;
        source = await createNamespaceSource(options({ kind: 'kubeconfig', path }, rec, timeoutMs));

        const started = Date.now();
        const results = await Promise.all([
          source.lookup('slow'),
          source.lookup('slow'),
          source.lookup('slow'),
        ]);
        const elapsed = Date.now() - started;
        expect(elapsed).to.be.within(timeoutMs - 20, timeoutMs + 700);
        for (const r of results) expect(r).to.deep.equal({ kind: 'failed', reason: 'timed out after 300ms' });
        expect(rec.failures()).to.equal(1);
        // One connection for the informer's list, one for the shared GET.
        expect(accepted).to.equal(2);
        expect(source.synced()).to.equal(false);
        // The aborted GET's connection is closed; the list's is still waiting.
        await waitFor(() => sockets.size === 1, 'the timed-out GET to close its connection', 2000);

        source.stop();
        await waitFor(() => sockets.size === 0, 'stop() to close the list connection', 2000);
        expect(rec.lines.filter((l) => l.msg.startsWith('namespace informer failed'))).to.deep.equal([]);
      });
    });
  });
});
