import { expect } from 'chai';
import type { ControlId } from '../../../src/engine/controls/ids.js';
import type { Change } from '../../../src/engine/controls/types.js';
import {
  MAX_CHANGES_ANNOTATION_BYTES,
  mergeChangesAnnotation,
  parseChangesRecord,
  type RecordEntry,
} from '../../../src/engine/record/changes.js';

/** The merge as harden() runs it: the earlier annotation text is parsed once, by the policy. */
const merge = (existing: string | undefined, changes: readonly RecordEntry[]): string =>
  mergeChangesAnnotation(parseChangesRecord(existing), changes);

function change(
  path: string,
  value: unknown = true,
  target = 'app',
  control: ControlId = 'run-as-non-root',
): Change {
  return { control, target, path, value };
}

/** `count` distinct changes, each about `size` bytes once serialised. */
function manyChanges(count: number, size = 100): Change[] {
  return Array.from({ length: count }, (_, i) => change(`/spec/containers/${i}/x`, 'v'.repeat(size)));
}

function parse(annotation: string): unknown[] {
  const parsed: unknown = JSON.parse(annotation);
  expect(parsed).to.be.an('array');
  return parsed as unknown[];
}

/** Asserts the truncation contract: a prefix of `all`, then an exact count of what is not shown. */
function expectBoundedPrefix(annotation: string, all: readonly object[], alreadyTruncated = 0): number {
  expect(Buffer.byteLength(annotation)).to.be.at.most(MAX_CHANGES_ANNOTATION_BYTES);
  const items = parse(annotation);
  const marker = items[items.length - 1];
  expect(marker).to.have.keys('truncated');
  const shown = items.slice(0, -1);
  expect(shown).to.deep.equal(all.slice(0, shown.length));
  expect((marker as { truncated: number }).truncated).to.equal(all.length - shown.length + alreadyTruncated);
  return shown.length;
}

const asEntry = ({ control, target, path, value }: Change) => ({ control, target, path, value });

describe('engine/record/changes', () => {
  describe('mergeChangesAnnotation', () => {
    it('writes a JSON array of field-level changes', () => {
      const changes = [change('/spec/securityContext/runAsNonRoot', true, 'pod'), change('/a~1b', { x: 1 })];
      expect(parse(merge(undefined, changes))).to.deep.equal(changes.map(asEntry));
    });

    it('records only control, target, path and value', () => {
      const extra = { ...change('/p'), internal: 'no' } as Change;
      expect(parse(merge(undefined, [extra]))).to.deep.equal([asEntry(extra)]);
    });

    // Reinvocation: the second pass hardens containers another webhook added after us.
    it('appends to the record of an earlier pass', () => {
      const first = [change('/spec/securityContext/runAsNonRoot', true, 'pod')];
      const second = [change('/spec/containers/1/securityContext/capabilities/drop', ['ALL'], 'istio-proxy')];
      const merged = merge(merge(undefined, first), second);
      expect(parse(merged)).to.deep.equal([...first, ...second].map(asEntry));
    });

    for (const garbage of ['not json', '{"control":"x"}', '"a string"', 'null', '']) {
      it(`replaces an unreadable earlier value ${JSON.stringify(garbage)}`, () => {
        const changes = [change('/p')];
        expect(parse(merge(garbage, changes))).to.deep.equal(changes.map(asEntry));
      });
    }

    it('drops unreadable items of an earlier array and keeps readable ones', () => {
      const kept = { control: 'run-as-non-root', target: 'pod', path: '/x', value: 1 };
      const existing = JSON.stringify([1, 'x', null, { control: 1, target: 'a', path: '/p' }, kept]);
      const merged = parse(merge(existing, [change('/p')]));
      expect(merged).to.deep.equal([kept, asEntry(change('/p'))]);
    });

    it('stays exact below the byte bound: no marker when everything fits', () => {
      const changes = manyChanges(10);
      const merged = merge(undefined, changes);
      expect(parse(merged)).to.deep.equal(changes.map(asEntry));
    });

    it('truncates the newest entries past MAX_CHANGES_ANNOTATION_BYTES with an exact count', () => {
      const changes = manyChanges(200);
      const shown = expectBoundedPrefix(merge(undefined, changes), changes.map(asEntry));
      expect(shown).to.be.greaterThan(0);
    });

    it('uses the space well: one more entry would not have fitted', () => {
      const changes = manyChanges(200);
      const merged = merge(undefined, changes);
      const shown = expectBoundedPrefix(merged, changes.map(asEntry));
      const items = parse(merged);
      const denser = [
        ...items.slice(0, -1),
        asEntry(changes[shown]!),
        { truncated: changes.length - shown - 1 },
      ];
      expect(Buffer.byteLength(JSON.stringify(denser))).to.be.greaterThan(MAX_CHANGES_ANNOTATION_BYTES);
    });

    it('fits a record of exactly MAX_CHANGES_ANNOTATION_BYTES bytes, and truncates one byte more', () => {
      const overhead = Buffer.byteLength(merge(undefined, [change('/p', '')]));
      const exact = change('/p', 'v'.repeat(MAX_CHANGES_ANNOTATION_BYTES - overhead));
      const fits = merge(undefined, [exact]);
      expect(Buffer.byteLength(fits)).to.equal(MAX_CHANGES_ANNOTATION_BYTES);
      expect(parse(fits)).to.deep.equal([asEntry(exact)]);
      const over = change('/p', 'v'.repeat(MAX_CHANGES_ANNOTATION_BYTES - overhead + 1));
      expect(parse(merge(undefined, [over]))).to.deep.equal([{ truncated: 1 }]);
    });

    it('bounds bytes, not characters', () => {
      // 3000 characters, 6000 bytes: one fits, two do not.
      const wide = [change('/a', 'é'.repeat(3000)), change('/b', 'é'.repeat(3000))];
      const merged = merge(undefined, wide);
      expect(merged.length).to.be.below(MAX_CHANGES_ANNOTATION_BYTES);
      expectBoundedPrefix(merged, wide.map(asEntry));
      expect(parse(merged)).to.have.length(2);
    });

    it('accumulates the count of an earlier truncation when nothing new is dropped', () => {
      const earlier = JSON.stringify([asEntry(change('/a')), { truncated: 5 }]);
      expect(parse(merge(earlier, [change('/b')]))).to.deep.equal([
        asEntry(change('/a')),
        asEntry(change('/b')),
        { truncated: 5 },
      ]);
    });

    it('adds newly dropped entries to the earlier truncation count', () => {
      const first = manyChanges(200);
      const firstRecord = merge(undefined, first);
      const firstShown = expectBoundedPrefix(firstRecord, first.map(asEntry));

      const second = manyChanges(30);
      const merged = merge(firstRecord, second);
      const all = [...first.slice(0, firstShown), ...second].map(asEntry);
      expectBoundedPrefix(merged, all, first.length - firstShown);
      // Nothing is lost from the count over two passes.
      const items = parse(merged);
      const marker = items[items.length - 1] as { truncated: number };
      expect(items.length - 1 + marker.truncated).to.equal(first.length + second.length);
    });

    it('sums several earlier markers', () => {
      const earlier = JSON.stringify([{ truncated: 2 }, asEntry(change('/a')), { truncated: 3 }]);
      expect(parse(merge(earlier, []))).to.deep.equal([asEntry(change('/a')), { truncated: 5 }]);
    });
  });

  describe('parseChangesRecord', () => {
    it('counts only positive whole truncated counts', () => {
      const text = JSON.stringify([
        { truncated: -5 },
        { truncated: 1.5 },
        { truncated: 1e300 },
        { truncated: 3 },
      ]);
      expect(parseChangesRecord(text).truncated).to.equal(3);
    });

    it('does not parse a record longer than ours can be', () => {
      const entry = { control: 'c', target: 't', path: '/p', value: 'x'.repeat(100) };
      const text = JSON.stringify(Array.from({ length: 200 }, () => entry));
      expect(parseChangesRecord(text).entries).to.have.length(0);
    });
  });
});

describe('engine/record/changes: image-profile entries', () => {
  const named = { ...change('/spec/securityContext/runAsUser', 101, 'pod'), profile: 'nginx' };
  const skipped = {
    control: 'run-as-non-root' as const,
    target: 'legacy',
    skipped: 'image profile legacy says the image must run as root',
    profile: 'legacy',
  };

  it('writes a profile-named change and a profile skip in the documented key order', () => {
    const text = merge(undefined, [{ ...named, extra: 1 } as Change, skipped]);
    expect(text).to.equal(
      '[{"control":"run-as-non-root","target":"pod","path":"/spec/securityContext/runAsUser","value":101,"profile":"nginx"},' +
        '{"control":"run-as-non-root","target":"legacy","skipped":"image profile legacy says the image must run as root","profile":"legacy"}]',
    );
  });

  it('reads both back from a sealed record, and keeps them when a later pass appends', () => {
    const first = merge(undefined, [named, skipped]);
    expect(parseChangesRecord(first).entries).to.deep.equal([named, skipped]);
    const second = merge(first, [change('/spec/containers/1/securityContext/runAsNonRoot', true, 'sidecar')]);
    expect(parse(second)).to.have.length(3);
    expect(parse(second).slice(0, 2)).to.deep.equal([named, skipped]);
  });

  it('ignores a skip entry without a profile, as an entry it does not know', () => {
    const text = JSON.stringify([{ control: 'run-as-non-root', target: 'x', skipped: 'why' }]);
    expect(parseChangesRecord(text).entries).to.deep.equal([]);
  });
});
