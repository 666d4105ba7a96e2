/**
 * Exact parsing and comparison of Kubernetes resource quantities
 * (k8s.io/apimachinery/pkg/api/resource.Quantity).
 *
 * Quantities are held as exact rationals so that `1Gi` vs `1073741824` or `0.1` vs `100m` never suffer
 * from floating-point rounding or lexical comparison.
 */

/** An exact rational value `num / den`; `den > 0`, not necessarily reduced. */
export interface Quantity {
  readonly num: bigint;
  readonly den: bigint;
}

// One regex mirrors the apimachinery grammar. The suffix alternatives are tried before the exponent, so
// `1E` is exa while `1E3` backtracks into the exponent branch; a bare `e`/`E` exponent cannot match.
const QUANTITY_RE = /^([+-]?)(\d*)(?:\.(\d*))?(?:(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE]([+-]?\d+))?$/;

const BINARY_POWER: Readonly<Record<string, bigint>> = { Ki: 1n, Mi: 2n, Gi: 3n, Ti: 4n, Pi: 5n, Ei: 6n };

const DECIMAL_EXPONENT: Readonly<Record<string, number>> = {
  n: -9,
  u: -6,
  m: -3,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};

// The API server clamps quantities to 2^63-1 and rounds to 1n, so exponents far beyond that range carry no
// meaning; refusing them keeps an attacker-supplied `1e999999999` from forcing a huge BigInt power inside
// the admission path.
const MAX_EXPONENT = 1000;
// Likewise for digits: BigInt of a string of a million digits takes seconds. Real quantities are short.
const MAX_QUANTITY_LENGTH = 64;

/**
 * Parses a quantity string (or a finite JSON number) exactly. Returns `undefined` for anything that is
 * not a valid quantity, including non-string input, since callers pass raw JSON through.
 */
export function parseQuantity(text: unknown): Quantity | undefined {
  if (typeof text === 'number') {
    // String(n) is the shortest round-tripping decimal, which is what the JSON author wrote.
    return Number.isFinite(text) ? parseQuantity(String(text)) : undefined;
  }
  if (typeof text !== 'string' || text.length > MAX_QUANTITY_LENGTH) return undefined;

  const match = QUANTITY_RE.exec(text);
  if (match === null) return undefined;
  const [, sign = '', intDigits = '', fracDigits = '', suffix, exponentText] = match;
  if (intDigits.length + fracDigits.length === 0) return undefined;

  let num = BigInt(intDigits + fracDigits);
  if (sign === '-') num = -num;

  let exponent = -fracDigits.length;
  if (exponentText !== undefined) {
    const literal = Number(exponentText);
    if (Math.abs(literal) > MAX_EXPONENT) return undefined;
    exponent += literal;
  } else if (suffix !== undefined) {
    const binary = BINARY_POWER[suffix];
    if (binary !== undefined) num *= 1024n ** binary;
    else exponent += DECIMAL_EXPONENT[suffix] ?? 0;
  }

  return exponent >= 0
    ? { num: num * 10n ** BigInt(exponent), den: 1n }
    : { num, den: 10n ** BigInt(-exponent) };
}

/** Orders two quantities exactly; denominators are positive, so cross-multiplying preserves order. */
export function compareQuantities(a: Quantity, b: Quantity): -1 | 0 | 1 {
  const left = a.num * b.den;
  const right = b.num * a.den;
  return left < right ? -1 : left > right ? 1 : 0;
}

/** Parses and compares two raw values; `undefined` when either is not a valid quantity. */
export function compareQuantityText(a: unknown, b: unknown): -1 | 0 | 1 | undefined {
  const qa = parseQuantity(a);
  const qb = parseQuantity(b);
  return qa === undefined || qb === undefined ? undefined : compareQuantities(qa, qb);
}
