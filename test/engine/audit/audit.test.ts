import { expect } from 'chai';
import type { ControlId } from '../../../src/engine/controls/ids.js';
import type { Change } from '../../../src/engine/controls/types.js';
import {
  MAX_CHANGES_ANNOTATION_BYTES,
  MAX_WARNING_LENGTH,
  MAX_WARNINGS,
  auditAnnotations,
  boundWarnings,
  mergeChangesAnnotation,
  truncate,
  violationWarnings,
  warning,
  wouldChangeWarnings,
  type AuditSummary,
} from '../../../src/engine/audit/audit.js';
import type { Violation } from '../../../src/engine/pod-security/restricted.js';
import { parseChangesRecord } from '../../../src/engine/record/changes.js';

/** The merge as harden() runs it: the earlier annotation text is parsed once, by the policy. */
const merge = (existing: string | undefined, changes: readonly Change[]): string =>
  mergeChangesAnnotation(parseChangesRecord(existing), changes);

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

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

describe('core/audit', () => {
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

  describe('warnings', () => {
    it('warning() prefixes, replaces non-printable characters and caps the length', () => {
      const text = warning(`line\nbreak\ttab é ☃ \u0000 ${'x'.repeat(1000)}`);
      expect(text.startsWith('pod-hardener: line?break?tab ? ? ? ')).to.equal(true);
      expect(text).to.match(PRINTABLE_ASCII);
      expect(text).to.have.length(MAX_WARNING_LENGTH);
      expect(text.endsWith('...')).to.equal(true);
    });

    it('warning() keeps a short printable text as it is', () => {
      expect(warning('ok')).to.equal('pod-hardener: ok');
    });

    it('truncate() cuts to exactly max characters', () => {
      expect(truncate('abcdef', 6)).to.equal('abcdef');
      expect(truncate('abcdefg', 6)).to.equal('abc...');
    });

    it('violationWarnings: one bounded warning per violation, naming pod or container', () => {
      const violations: Violation[] = [
        { check: 'run-as-user', target: 'pod', detail: 'runAsUser: 0' },
        {
          check: 'capabilities',
          target: 'istio-init',
          detail: `capabilities.add: ${'NET_ADMIN, '.repeat(50)}`,
        },
        { check: 'seccomp', target: 'ünïcode', detail: 'seccompProfile.type: Unconfined' },
      ];
      const warnings = violationWarnings(violations);
      expect(warnings).to.have.length(3);
      expect(warnings[0]).to.equal(
        'pod-hardener: pod: runAsUser: 0 left in place (fails Pod Security "restricted", check run-as-user)',
      );
      expect(warnings[1]).to.include('container "istio-init": capabilities.add: NET_ADMIN');
      for (const w of warnings) {
        expect(w.length).to.be.at.most(MAX_WARNING_LENGTH);
        expect(w).to.match(PRINTABLE_ASCII);
      }
    });

    it('wouldChangeWarnings groups by control and target, in first-seen order, fields relative to the target', () => {
      const changes: Change[] = [
        change('/spec/securityContext/runAsNonRoot', true, 'pod'),
        change(
          '/spec/containers/0/securityContext/capabilities/drop',
          ['ALL'],
          'app',
          'drop-all-capabilities',
        ),
        change('/spec/securityContext/runAsUser', 65532, 'pod'),
        change('/spec/initContainers/0/securityContext/runAsNonRoot', true, 'app'),
        change(
          '/spec/ephemeralContainers/1/securityContext/capabilities/drop/2',
          'ALL',
          'b',
          'drop-all-capabilities',
        ),
      ];
      expect(wouldChangeWarnings(changes)).to.deep.equal([
        'pod-hardener: warn mode: run-as-non-root would set on pod: securityContext.runAsNonRoot=true, securityContext.runAsUser=65532',
        'pod-hardener: warn mode: drop-all-capabilities would set on container "app": securityContext.capabilities.drop=["ALL"]',
        'pod-hardener: warn mode: run-as-non-root would set on container "app": securityContext.runAsNonRoot=true',
        'pod-hardener: warn mode: drop-all-capabilities would set on container "b": securityContext.capabilities.drop.2="ALL"',
      ]);
    });

    it('wouldChangeWarnings unescapes pointer segments', () => {
      const [only] = wouldChangeWarnings([change('/spec/volumes/0/name~1x~0y', 'v', 'pod')]);
      expect(only).to.equal(
        'pod-hardener: warn mode: run-as-non-root would set on pod: volumes.0.name/x~y="v"',
      );
    });

    // A long group continues in further warnings instead of being cut, so nothing goes unmentioned.
    it('wouldChangeWarnings splits a long group into bounded warnings that mention every field once', () => {
      const changes = Array.from({ length: 50 }, (_, i) =>
        change(`/spec/volumes/${i}`, { name: `v${i}`, emptyDir: {} }, 'pod', 'read-only-root-filesystem'),
      );
      const head = 'pod-hardener: warn mode: read-only-root-filesystem would set on pod: ';
      const lines = wouldChangeWarnings(changes);
      expect(lines.length).to.be.greaterThan(1);
      const fields: string[] = [];
      for (const line of lines) {
        expect(line.length).to.be.at.most(MAX_WARNING_LENGTH);
        expect(line).to.match(PRINTABLE_ASCII);
        expect(line.startsWith(head), line).to.equal(true);
        expect(line.endsWith('...'), line).to.equal(false);
        fields.push(...line.slice(head.length).split(', '));
      }
      expect(fields).to.deep.equal(changes.map((c, i) => `volumes.${i}=${JSON.stringify(c.value)}`));
    });

    it('wouldChangeWarnings packs fields: a line is only closed when the next field would not fit', () => {
      const changes = Array.from({ length: 50 }, (_, i) => change(`/spec/securityContext/f${i}`, i, 'pod'));
      const lines = wouldChangeWarnings(changes);
      for (let i = 0; i < lines.length - 1; i++) {
        const nextField = lines[i + 1]!.split(': ').slice(2).join(': ').split(', ')[0]!;
        expect(`${lines[i]!}, ${nextField}`.length, `line ${i}`).to.be.at.least(MAX_WARNING_LENGTH);
      }
    });

    it('wouldChangeWarnings cuts a single field too long for any warning, and keeps the rest', () => {
      const lines = wouldChangeWarnings([
        change('/spec/securityContext/a', 'x'.repeat(400), 'pod'),
        change('/spec/securityContext/b', 1, 'pod'),
      ]);
      expect(lines).to.have.length(2);
      expect(lines[0]).to.have.length(MAX_WARNING_LENGTH);
      expect(lines[1]).to.equal(
        'pod-hardener: warn mode: run-as-non-root would set on pod: securityContext.b=1',
      );
    });

    it('boundWarnings returns up to MAX_WARNINGS unique warnings unchanged', () => {
      const list = Array.from({ length: MAX_WARNINGS }, (_, i) => `w${i}`);
      expect(boundWarnings(list)).to.deep.equal(list);
      expect(boundWarnings([...list, ...list])).to.deep.equal(list);
    });

    for (const count of [MAX_WARNINGS + 1, 100]) {
      it(`boundWarnings caps ${count} warnings and says how many were left out`, () => {
        const list = Array.from({ length: count }, (_, i) => `w${i}`);
        const bounded = boundWarnings(list);
        expect(bounded).to.have.length(MAX_WARNINGS);
        expect(bounded.slice(0, -1)).to.deep.equal(list.slice(0, MAX_WARNINGS - 1));
        const left = count - (MAX_WARNINGS - 1);
        expect(bounded[MAX_WARNINGS - 1]).to.equal(
          `pod-hardener: ${left} more warnings not shown; see the webhook log`,
        );
      });
    }
  });

  describe('auditAnnotations', () => {
    const base: AuditSummary = {
      mode: 'enforce',
      changes: 0,
      changesByControl: {},
      violations: [],
      optOuts: [],
      patched: false,
      laterPass: false,
    };

    it('always has mode, patched and changes; the rest only when there is something to say', () => {
      expect(auditAnnotations(base)).to.deep.equal({ mode: 'enforce', patched: 'false', changes: '0' });
    });

    it('gives a later pass keys of its own, because the API server refuses to overwrite the first pass', () => {
      expect(
        auditAnnotations({
          ...base,
          laterPass: true,
          patched: true,
          changes: 2,
          changesByControl: { 'default-resources': 2 },
        }),
      ).to.deep.equal({
        'reinvocation-mode': 'enforce',
        'reinvocation-patched': 'true',
        'reinvocation-changes': '2',
        'reinvocation-controls': 'default-resources=2',
      });
    });

    it('lists counts per control in the given order, dedupes violations, lists opt-outs', () => {
      const annotations = auditAnnotations({
        ...base,
        mode: 'warn',
        patched: true,
        changes: 3,
        changesByControl: { 'seccomp-runtime-default': 1, 'run-as-non-root': 2 },
        violations: [
          { check: 'run-as-user', target: 'root', detail: 'x' },
          { check: 'run-as-user', target: 'root', detail: 'y' },
          { check: 'capabilities', target: 'init', detail: 'z' },
        ],
        optOuts: ['app/run-as-non-root', 'default-resources'],
      });
      expect(annotations).to.deep.equal({
        mode: 'warn',
        patched: 'true',
        changes: '3',
        controls: 'seccomp-runtime-default=1,run-as-non-root=2',
        'residual-violations': 'run-as-user:root,capabilities:init',
        'opt-outs': 'app/run-as-non-root,default-resources',
      });
    });

    it('keeps every value at most 1024 characters', () => {
      const violations = Array.from({ length: 200 }, (_, i) => ({
        check: 'capabilities',
        target: `container-${i}`,
        detail: '',
      }));
      const optOuts = Array.from({ length: 200 }, (_, i) => `container-${i}/run-as-non-root`);
      const annotations = auditAnnotations({ ...base, violations, optOuts });
      for (const value of Object.values(annotations)) expect(value.length).to.be.at.most(1024);
      expect(annotations['residual-violations']!.endsWith('...')).to.equal(true);
    });
  });
});
