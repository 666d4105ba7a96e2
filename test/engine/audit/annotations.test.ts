import { expect } from 'chai';
import { auditAnnotations, type AuditSummary } from '../../../src/engine/audit/annotations.js';

describe('engine/audit/annotations', () => {
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
