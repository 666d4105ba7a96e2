import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { breakdown, breakdownTable } from '../../bench/profile-breakdown.js';
import { e2eTargetRows, readE2eSummary } from '../../bench/e2e-summary.js';

interface Frame {
  readonly name: string;
  readonly url?: string;
  readonly children?: readonly Frame[];
  /** Sampled milliseconds spent in this frame itself. */
  readonly selfMs?: number;
}

/** A V8 CPU profile from a tree of frames: ids in depth-first order, one sample per frame with its time. */
function profileOf(root: Frame): Parameters<typeof breakdown>[0] {
  const nodes: { id: number; callFrame: { functionName: string; url: string }; children: number[] }[] = [];
  const samples: number[] = [];
  const timeDeltas: number[] = [];
  const add = (frame: Frame): number => {
    const id = nodes.length + 1;
    const node = {
      id,
      callFrame: { functionName: frame.name, url: frame.url ?? '' },
      children: [] as number[],
    };
    nodes.push(node);
    if (frame.selfMs !== undefined) {
      samples.push(id);
      timeDeltas.push(frame.selfMs * 1000);
    }
    for (const child of frame.children ?? []) node.children.push(add(child));
    return id;
  };
  add(root);
  return { nodes, samples, timeDeltas };
}

describe('bench/profile-breakdown', () => {
  const profile = profileOf({
    name: '(root)',
    children: [
      { name: '(idle)', selfMs: 500 },
      { name: '(garbage collector)', selfMs: 10 },
      { name: 'compileForInternalLoader', url: 'node:internal/bootstrap/realm', selfMs: 40 },
      {
        name: 'review',
        url: 'file:///repo/dist/http/app.js',
        selfMs: 5,
        children: [
          {
            name: 'reviewAdmission',
            url: 'file:///repo/dist/engine/review/review.js',
            selfMs: 20,
            children: [
              // A builtin under the engine is the engine's: the JSON copy of the pod.
              { name: 'stringify', selfMs: 3 },
              {
                name: 'compare',
                url: 'file:///repo/node_modules/fast-json-patch/commonjs/duplex.js',
                selfMs: 7,
              },
              {
                name: 'writeRecord',
                url: 'file:///repo/dist/engine/record/changes.js',
                selfMs: 4,
                children: [{ name: 'Hmac', url: 'node:internal/crypto/hash', selfMs: 2 }],
              },
            ],
          },
          { name: 'stringify', url: 'file:///repo/node_modules/express/lib/response.js', selfMs: 6 },
          { name: 'observe', url: 'file:///repo/node_modules/prom-client/lib/histogram.js', selfMs: 1 },
        ],
      },
      { name: 'parse', url: 'file:///repo/node_modules/body-parser/lib/types/json.js', selfMs: 8 },
      { name: 'writev', selfMs: 9 },
      { name: 'somethingElse', url: 'file:///repo/dist/unknown.js', selfMs: 2 },
    ],
  });

  it('puts each sample in the part its innermost named frame belongs to', () => {
    const result = breakdown(profile, 10);
    expect(result.ms).to.deep.equal({
      TLS: 9,
      'HTTP and express': 5,
      'JSON parse': 8,
      'engine: controls and policy': 23,
      'engine: diff (fast-json-patch)': 7,
      'engine: record and audit': 6,
      'JSON serialise': 6,
      log: 0,
      metrics: 1,
      GC: 10,
      other: 2,
    });
    expect(result.idleMs).to.equal(500);
    expect(result.startUpMs).to.equal(40);
    expect(result.busyMs).to.equal(77);
    expect(result.top[0]).to.deep.include({ part: 'engine: controls and policy', ms: 20 });
  });

  it('renders microseconds per review and shares', () => {
    const table = breakdownTable([{ label: 'typical', breakdown: breakdown(profile, 10) }]);
    // 23 ms over 10 reviews, 30 % of 77 ms busy.
    expect(table).to.contain('| engine: controls and policy | 2,300 (30 %) |');
    expect(table).to.contain('| **all** | **7,700 (100 %)** |');
  });
});

describe('bench/e2e-summary', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'e2e-summary-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('says part 4 was not measured when there is no e2e run', () => {
    const rows = e2eTargetRows(readE2eSummary(path.join(dir, 'missing.json')));
    expect(rows).to.have.length(1);
    expect(rows[0]).to.include({ met: false });
    expect(rows[0]?.measured).to.contain('npm run bench -- --e2e');
  });

  it('names the e2e run its targets come from', () => {
    const file = path.join(dir, 'e2e-latest.json');
    writeFileSync(
      file,
      JSON.stringify({
        startedAt: '2026-12-03T10:15:14.702Z',
        git: { commit: '0112cac0000' },
        cells: [{ system: 'none', concurrency: 1, creates: 200, errors: 0, p50Ms: 10, p99Ms: 30, extra: 1 }],
        targets: [{ target: 'errors, every cell', goal: '0', measured: '0', met: true }],
      }),
    );
    const summary = readE2eSummary(file);
    expect(summary).to.not.be.instanceOf(Error);
    expect(summary && !(summary instanceof Error) ? summary.cells[0] : undefined).to.deep.equal({
      system: 'none',
      concurrency: 1,
      creates: 200,
      errors: 0,
      p50Ms: 10,
      p99Ms: 30,
    });
    expect(e2eTargetRows(summary)).to.deep.equal([
      {
        name: 'errors, every cell (e2e run of 2026-12-03 10:15, commit 0112cac)',
        goal: '0',
        measured: '0',
        met: true,
      },
    ]);
  });

  it('reports a file that is not an e2e report', () => {
    const file = path.join(dir, 'e2e-latest.json');
    writeFileSync(file, '{"cells": 3}');
    const rows = e2eTargetRows(readE2eSummary(file));
    expect(rows[0]?.measured).to.match(/^not read: .*not a report of bench\/e2e-latency\.ts$/);
  });
});
