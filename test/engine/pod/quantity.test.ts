import { expect } from 'chai';
import { compareQuantities, compareQuantityText, parseQuantity } from '../../../src/engine/pod/quantity.js';

/** Reduces a parsed value to a canonical "num/den" so tables can state expected values exactly. */
function canonical(input: unknown): string | undefined {
  const q = parseQuantity(input);
  if (q === undefined) return undefined;
  const abs = (x: bigint): bigint => (x < 0n ? -x : x);
  const gcd = (x: bigint, y: bigint): bigint => (y === 0n ? x : gcd(y, x % y));
  const g = gcd(abs(q.num), q.den);
  return `${q.num / g}/${q.den / g}`;
}

describe('engine/pod/quantity', () => {
  describe('parseQuantity', () => {
    const valid: [input: unknown, expected: string][] = [
      // plain numbers and decimal forms
      ['0', '0/1'],
      ['1', '1/1'],
      ['1.', '1/1'],
      ['.5', '1/2'],
      ['1.5', '3/2'],
      ['0.1', '1/10'],
      ['007', '7/1'],
      ['+2', '2/1'],
      ['+.5', '1/2'],
      ['-0', '0/1'],
      // binarySI
      ['1Ki', '1024/1'],
      ['1Mi', `${2n ** 20n}/1`],
      ['1Gi', `${2n ** 30n}/1`],
      ['1Ti', `${2n ** 40n}/1`],
      ['1Pi', `${2n ** 50n}/1`],
      ['1Ei', `${2n ** 60n}/1`],
      ['1.5Gi', `${3n * 2n ** 29n}/1`],
      ['.5Ki', '512/1'],
      // decimalSI
      ['1n', '1/1000000000'],
      ['1u', '1/1000000'],
      ['1m', '1/1000'],
      ['1k', '1000/1'],
      ['1M', '1000000/1'],
      ['1G', `${10n ** 9n}/1`],
      ['1T', `${10n ** 12n}/1`],
      ['1P', `${10n ** 15n}/1`],
      ['1E', `${10n ** 18n}/1`],
      ['100n', '1/10000000'],
      ['250m', '1/4'],
      ['1.5k', '1500/1'],
      ['1.G', `${10n ** 9n}/1`],
      // decimalExponent
      ['1e3', '1000/1'],
      ['1E3', '1000/1'],
      ['2e+3', '2000/1'],
      ['1e-3', '1/1000'],
      ['1.5E-2', '3/200'],
      ['1e0', '1/1'],
      ['5e-0', '5/1'],
      ['.5e1', '5/1'],
      // negatives
      ['-1', '-1/1'],
      ['-1.5', '-3/2'],
      ['-500m', '-1/2'],
      ['-2Gi', `${-(2n ** 31n)}/1`],
      ['-1e-3', '-1/1000'],
      // huge values stay exact
      ['8Ei', `${2n ** 63n}/1`],
      ['9e18', `${9n * 10n ** 18n}/1`],
      ['9223372036854775807', '9223372036854775807/1'],
      ['123456789012345678901234567890', '123456789012345678901234567890/1'],
      ['1e1000', `${10n ** 1000n}/1`],
      // JSON numbers go through their decimal string form
      [1, '1/1'],
      [0.5, '1/2'],
      [0.1, '1/10'],
      [-2, '-2/1'],
      [1e21, `${10n ** 21n}/1`],
      [1e-7, '1/10000000'],
      [-0, '0/1'],
    ];
    for (const [input, expected] of valid) {
      it(`parses ${typeof input === 'string' ? JSON.stringify(input) : String(input)} as ${expected}`, () => {
        expect(canonical(input)).to.equal(expected);
      });
    }

    const invalid: unknown[] = [
      '',
      ' ',
      '+',
      '-',
      '.',
      '-.',
      '1Mi2',
      '1 Gi',
      ' 1',
      '1 ',
      '1\n',
      '1.2.3',
      'e3',
      '1e',
      '1E+',
      '1e-',
      '1e1.5',
      '1K',
      '1KI',
      '1ki',
      '1mi',
      '1Kii',
      '1Gib',
      '1kk',
      '1e3k',
      '1Ki3',
      '0x10',
      '1_000',
      '１',
      '--1',
      '+-1',
      'Infinity',
      'NaN',
      'Gi',
      '1e1001',
      '1e-99999999999',
      NaN,
      Infinity,
      -Infinity,
      null,
      undefined,
      true,
      {},
      [],
      ['1'],
      1n,
      { num: 1n, den: 1n },
    ];
    for (const input of invalid) {
      it(`rejects ${typeof input === 'string' ? JSON.stringify(input) : String(input)}`, () => {
        expect(parseQuantity(input)).to.equal(undefined);
      });
    }

    it('always yields a positive denominator', () => {
      for (const [input] of valid) expect(parseQuantity(input)!.den > 0n).to.equal(true);
    });
  });

  describe('compareQuantityText', () => {
    const cases: [a: unknown, b: unknown, expected: -1 | 0 | 1][] = [
      // equality across notations
      ['1Gi', '1073741824', 0],
      ['0.5', '500m', 0],
      ['1e3', '1k', 0],
      ['1.5', '1500m', 0],
      ['1e-3', '1m', 0],
      ['100n', '0.0000001', 0],
      ['1u', '1000n', 0],
      ['1Ki', '1024', 0],
      ['1024Mi', '1Gi', 0],
      ['1000M', '1G', 0],
      ['1E', '1e18', 0],
      ['8Ei', '9223372036854775808', 0],
      ['1', '1.', 0],
      ['.5', '0.50', 0],
      ['0', '-0', 0],
      ['0m', '0Gi', 0],
      [1, '1000m', 0],
      [0.25, '250m', 0],
      // ordering
      ['128M', '128Mi', -1],
      ['128Mi', '128M', 1],
      ['1k', '1Ki', -1],
      ['999m', '1', -1],
      ['1n', '0', 1],
      ['-1', '0', -1],
      ['-1Gi', '-1G', -1],
      ['9e18', '8Ei', -1],
      ['9223372036854775809', '8Ei', 1], // equal as doubles
      ['9223372036854775807', '8Ei', -1],
      ['9223372036854775807', '9223372036854775806', 1],
      ['1e-9', '1n', 0],
      ['1e-10', '1n', -1],
      ['10', '9', 1], // lexical comparison would get this wrong
      ['2', '10', -1],
      ['100m', '0.1', 0],
    ];
    for (const [a, b, expected] of cases) {
      it(`compares ${String(a)} with ${String(b)} as ${expected}`, () => {
        expect(compareQuantityText(a, b)).to.equal(expected);
        expect(compareQuantityText(b, a)).to.equal(-expected || 0);
      });
    }

    it('flags a 512Mi default limit as below a 1Gi request', () => {
      // The pitfall: "512Mi" > "1Gi" as strings, and a webhook comparing text would set limit < request.
      const request = '1Gi';
      const defaultLimit = '512Mi';
      expect(defaultLimit > request).to.equal(true);
      expect(compareQuantityText(defaultLimit, request)).to.equal(-1);
      expect(compareQuantityText(request, defaultLimit)).to.equal(1);
    });

    it('returns undefined when either side does not parse', () => {
      expect(compareQuantityText('1K', '1k')).to.equal(undefined);
      expect(compareQuantityText('1k', '1K')).to.equal(undefined);
      expect(compareQuantityText(undefined, '1')).to.equal(undefined);
      expect(compareQuantityText('1', null)).to.equal(undefined);
      expect(compareQuantityText(NaN, 1)).to.equal(undefined);
    });
  });

  describe('compareQuantities', () => {
    it('compares unreduced rationals by value', () => {
      expect(compareQuantities({ num: 2n, den: 4n }, { num: 1n, den: 2n })).to.equal(0);
      expect(compareQuantities({ num: 1n, den: 3n }, { num: 333n, den: 1000n })).to.equal(1);
      expect(compareQuantities({ num: -1n, den: 3n }, { num: -333n, den: 1000n })).to.equal(-1);
    });

    it('does not lose precision beyond 2^53', () => {
      const a = parseQuantity('9007199254740993')!;
      const b = parseQuantity('9007199254740992')!;
      expect(compareQuantities(a, b)).to.equal(1);
    });
  });
});
