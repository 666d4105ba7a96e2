import { expect } from 'chai';
import {
  createRecordSealer,
  MAX_SEAL_AGE_SECONDS,
  type SealSubject,
} from '../../../src/engine/record/seal.js';

const KEY = Buffer.alloc(32, 1);
const OTHER_KEY = Buffer.alloc(32, 2);
const sealer = createRecordSealer(() => ({ signing: KEY, accepted: [KEY] }));
const NOW = Date.UTC(2026, 5, 1);
const subject: SealSubject = {
  namespace: 'team-a',
  name: 'web',
  generateName: '',
  username: 'alice',
  dryRun: false,
  changes: '[{"control":"run-as-non-root","target":"app","path":"/spec/x","value":true}]',
  optOuts: undefined,
};

describe('engine/record/seal', () => {
  it('verifies its own seal for the same request within the age bound', () => {
    const seal = sealer.seal(subject, NOW);
    expect(seal).to.match(/^v1\.\d+\.[A-Za-z0-9_-]{43}$/);
    expect(sealer.verify(subject, seal, NOW)).to.equal(true);
    expect(sealer.verify(subject, seal, NOW + MAX_SEAL_AGE_SECONDS * 1000)).to.equal(true);
  });

  const changed: [string, Partial<SealSubject>][] = [
    ['another record', { changes: '[]' }],
    ['an added opt-outs annotation', { optOuts: 'default-resources' }],
    ['another namespace', { namespace: 'team-b' }],
    ['another pod name', { name: 'other' }],
    ['another generateName', { generateName: 'web-' }],
    ['another user', { username: 'mallory' }],
    ['a dry run turned real', { dryRun: true }],
  ];
  for (const [what, change] of changed) {
    it(`rejects the seal for ${what}`, () => {
      const seal = sealer.seal(subject, NOW);
      expect(sealer.verify({ ...subject, ...change }, seal, NOW)).to.equal(false);
    });
  }

  it('rejects a stale seal, one from the future, a missing one and garbage', () => {
    const seal = sealer.seal(subject, NOW);
    expect(sealer.verify(subject, seal, NOW + (MAX_SEAL_AGE_SECONDS + 1) * 1000)).to.equal(false);
    expect(sealer.verify(subject, seal, NOW - 60_000)).to.equal(false);
    expect(sealer.verify(subject, undefined, NOW)).to.equal(false);
    for (const garbage of ['', 'v1', 'v1.1.x', `v2${seal.slice(2)}`, `${seal}A`, seal.replace(/.$/, '_')])
      expect(sealer.verify(subject, garbage, NOW), garbage).to.equal(false);
  });

  it('rejects a seal made with another key, and accepts every key it is given (rotation)', () => {
    const other = createRecordSealer(() => ({ signing: OTHER_KEY, accepted: [OTHER_KEY] }));
    const seal = other.seal(subject, NOW);
    expect(sealer.verify(subject, seal, NOW)).to.equal(false);
    const rotated = createRecordSealer(() => ({ signing: KEY, accepted: [KEY, OTHER_KEY] }));
    expect(rotated.verify(subject, seal, NOW)).to.equal(true);
  });
});
