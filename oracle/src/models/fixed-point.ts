/**
 * Exact conversions between binary floating point and decimal fixed point. Everything goes
 * through BigInt on the exact binary value of the float, so there is no intermediate rounding:
 * one rounding, the one the format asks for.
 */

/** A finite double as sign · mantissa · 2^exponent, mantissa a non-negative integer. */
export interface ExactBinary {
  negative: boolean;
  mantissa: bigint;
  exponent: number;
}

const f64 = new DataView(new ArrayBuffer(8));

/** The exact value of a finite double (a float32 widened to double is the same value). */
export function exactBinary(x: number): ExactBinary {
  if (!Number.isFinite(x)) throw new RangeError(`not a finite number: ${x}`);
  f64.setFloat64(0, x);
  const bits = f64.getBigUint64(0);
  const negative = bits >> 63n === 1n;
  const biased = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & 0xfffffffffffffn;
  // Subnormals have no implicit leading bit and the exponent of the smallest normal.
  return biased === 0
    ? { negative, mantissa: fraction, exponent: -1074 }
    : { negative, mantissa: fraction | (1n << 52n), exponent: biased - 1075 };
}

/** q = n / d (d > 0, n ≥ 0) rounded to the nearest integer, ties to even. */
export function divRoundHalfEven(n: bigint, d: bigint): bigint {
  const q = n / d;
  const twice = 2n * (n % d);
  if (twice > d || (twice === d && (q & 1n) === 1n)) return q + 1n;
  return q;
}

/** 10^k for k ≥ 0, cached. */
const POW10: bigint[] = [1n];
export function pow10(k: number): bigint {
  while (POW10.length <= k) POW10.push(POW10[POW10.length - 1] * 10n);
  return POW10[k];
}

/**
 * round-half-to-even(x · 10^decimals) as an integer, computed exactly from the bits of x.
 * Throws on NaN and infinities (the caller turns them into a status).
 */
export function scaleToFixed(x: number, decimals: number): bigint {
  const { negative, mantissa, exponent } = exactBinary(x);
  const scaled = mantissa * pow10(decimals);
  const magnitude = exponent >= 0 ? scaled << BigInt(exponent) : divRoundHalfEven(scaled, 1n << BigInt(-exponent));
  return negative ? -magnitude : magnitude;
}

function bitLength(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length;
}

/** Parameters of an IEEE 754 binary format. */
interface BinaryFormat {
  /** Significand bits including the implicit one. */
  precision: number;
  /** Exponent of the smallest normal number (value 2^minExponent). */
  minExponent: number;
  /** Values at or above 2^maxExponentExclusive overflow. */
  maxExponentExclusive: number;
}

export const FLOAT32: BinaryFormat = { precision: 24, minExponent: -126, maxExponentExclusive: 128 };
export const FLOAT64: BinaryFormat = { precision: 53, minExponent: -1022, maxExponentExclusive: 1024 };

/**
 * The number of the given format nearest to num / den (den > 0), ties to even; ±Infinity when
 * the rounded value overflows. The result is returned as a JS number (exact for both formats).
 */
export function rationalToBinary(num: bigint, den: bigint, format: BinaryFormat): number {
  if (den <= 0n) throw new RangeError("denominator must be positive");
  if (num === 0n) return 0;
  const negative = num < 0n;
  const a = negative ? -num : num;
  // e = floor(log2(a / den)).
  let e = bitLength(a) - bitLength(den);
  if (e >= 0 ? a < den << BigInt(e) : a << BigInt(-e) < den) e -= 1;
  // Exponent of one unit in the last place; subnormals share the smallest one.
  const ulp = Math.max(e, format.minExponent) - (format.precision - 1);
  let m = ulp >= 0 ? divRoundHalfEven(a, den << BigInt(ulp)) : divRoundHalfEven(a << BigInt(-ulp), den);
  let q = ulp;
  if (m === 1n << BigInt(format.precision)) {
    m >>= 1n;
    q += 1;
  }
  if (q + bitLength(m) > format.maxExponentExclusive) return negative ? -Infinity : Infinity;
  const value = composeDouble(m, q);
  return negative ? -value : value;
}

/** m · 2^q as a double, built from bits (m < 2^53 and the value a double, normal or subnormal). */
function composeDouble(m: bigint, q: number): number {
  if (m === 0n) return 0;
  const len = bitLength(m);
  const top = q + len - 1; // exponent of the leading bit
  let bits: bigint;
  if (top >= -1022) {
    const shift = 53 - len; // normalize to 53 bits
    const mant = m << BigInt(shift);
    bits = (BigInt(top + 1023) << 52n) | (mant & 0xfffffffffffffn);
  } else {
    // Subnormal double: value = f · 2^-1074.
    const shift = q + 1074;
    if (shift < 0) throw new RangeError("value below the smallest double");
    bits = m << BigInt(shift);
  }
  f64.setBigUint64(0, bits);
  return f64.getFloat64(0);
}

/**
 * Compares the rational v / 10^decimals with the double x exactly: negative, zero or positive as
 * v / 10^decimals is less than, equal to or greater than x.
 */
export function compareFixedToNumber(v: bigint, decimals: number, x: number): number {
  const { negative, mantissa, exponent } = exactBinary(x);
  const xm = negative ? -mantissa : mantissa;
  // v / 10^d  ?  xm · 2^exponent   ⇔   v · 2^-exponent  ?  xm · 10^d   (exponent < 0)
  const left = exponent < 0 ? v << BigInt(-exponent) : v;
  const right = exponent < 0 ? xm * pow10(decimals) : (xm * pow10(decimals)) << BigInt(exponent);
  return left < right ? -1 : left > right ? 1 : 0;
}
