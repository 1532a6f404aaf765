/** Shared test helpers for the models module: a seeded PRNG and exact float references. */

/** mulberry32: a small seeded PRNG, so randomized tests replay the same cases. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A uniformly random uint32. */
export function randomUint32(rand: () => number): number {
  return Math.floor(rand() * 4294967296) >>> 0;
}

/** A random bigint of up to `bits` bits, either sign. */
export function randomBigInt(rand: () => number, bits: number): bigint {
  let v = 0n;
  for (let i = 0; i < bits; i += 32) v = (v << 32n) | BigInt(randomUint32(rand));
  v &= (1n << BigInt(1 + Math.floor(rand() * bits))) - 1n;
  return rand() < 0.5 ? -v : v;
}

const view32 = new DataView(new ArrayBuffer(4));

/** The float32 with the given bit pattern (as a JS number). */
export function float32FromBits(bits: number): number {
  view32.setUint32(0, bits >>> 0);
  return view32.getFloat32(0);
}

/** The bit pattern of a float32 value. */
export function float32Bits(x: number): number {
  view32.setFloat32(0, x);
  return view32.getUint32(0);
}

/** The next float32 above x (x finite). */
export function nextUp32(x: number): number {
  if (x === 0) return float32FromBits(1);
  const b = float32Bits(x);
  return float32FromBits(x > 0 ? b + 1 : b - 1);
}

/** The next float32 below x (x finite). */
export function nextDown32(x: number): number {
  return -nextUp32(-x);
}

/**
 * Reference decomposition of a finite double into m · 2^e with m an integer, by doubling until
 * the value is an integer (each doubling is exact) — no bit fiddling, unlike the module.
 */
export function refExact(x: number): { num: bigint; exp: number } {
  let m = x;
  let e = 0;
  while (!Number.isInteger(m)) {
    m *= 2;
    e -= 1;
  }
  return { num: BigInt(m), exp: e };
}
