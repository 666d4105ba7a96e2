import { expect } from 'chai';
import type { ControlId } from '../../../src/engine/controls/ids.js';
import type { Change } from '../../../src/engine/controls/types.js';
import {
  MAX_WARNING_LENGTH,
  MAX_WARNINGS,
  boundWarnings,
  truncate,
  violationWarnings,
  warning,
  windowsJudgedAsLinuxWarning,
  wouldChangeWarnings,
} from '../../../src/engine/audit/warnings.js';
import type { Violation } from '../../../src/engine/pod-security/restricted.js';

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

function change(
  path: string,
  value: unknown = true,
  target = 'app',
  control: ControlId = 'run-as-non-root',
): Change {
  return { control, target, path, value };
}

describe('engine/audit/warnings', () => {
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
      change('/spec/containers/0/securityContext/capabilities/drop', ['ALL'], 'app', 'drop-all-capabilities'),
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

  it('windowsJudgedAsLinuxWarning() names a field that kept spec.os.name out, and the count, within one line', () => {
    const long = '/spec/initContainers/10/securityContext/allowPrivilegeEscalation';
    const text = windowsJudgedAsLinuxWarning([
      long,
      '/spec/securityContext/seccompProfile',
      '/spec/resources',
    ]);
    expect(text).to.match(
      /^pod-hardener: pod: Windows by node selector or affinity, but Pod Security judges it as Linux/,
    );
    expect(text).to.include(`the API forbids ${long} and 2 more on Windows`);
    expect(text.length).to.be.below(MAX_WARNING_LENGTH);
    expect(windowsJudgedAsLinuxWarning(['/spec/resources'])).to.include('forbids /spec/resources on Windows');
    expect(windowsJudgedAsLinuxWarning([])).to.include('run-as-non-root is disabled or opted out');
  });
});
