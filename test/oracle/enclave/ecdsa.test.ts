import { expect } from "chai";
import { SigningKey, computeAddress, getBytes, hexlify, keccak256, randomBytes, recoverAddress, toBeHex } from "ethers";
import { isLowS, publicKeyToAddress, recoverSigner, signDigest } from "../../../oracle/src/enclave/ecdsa";
import { initKeccak, toHex } from "../../../oracle/src/protocol/bytes";

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/** A key for each of some fixed and random secrets: 1, n-1, a small one and random ones. */
function keys(): Uint8Array[] {
  const fixed = [1n, N - 1n, 0x11n, N / 2n].map((k) => getBytes(toBeHex(k, 32)));
  return [...fixed, ...Array.from({ length: 6 }, () => randomBytes(32))];
}

describe("enclave ECDSA (tiny-secp256k1) against ethers", () => {
  before(async () => {
    await initKeccak();
  });

  it("signs every digest byte for byte as ethers' SigningKey.sign(digest).serialized, low s, v 27/28", () => {
    let count = 0;
    for (const secret of keys()) {
      const key = new SigningKey(secret);
      const address = computeAddress(key.publicKey);
      const digests = [new Uint8Array(32), new Uint8Array(32).fill(0xff), ...Array.from({ length: 60 }, () => randomBytes(32))];
      for (const digest of digests) {
        const sig = signDigest(digest, secret);
        expect(sig, "signDigest gave up").to.not.equal(undefined);
        expect(sig!.length).to.equal(65);
        expect(toHex(sig!)).to.equal(key.sign(digest).serialized);
        expect(isLowS(sig!)).to.equal(true);
        expect([27, 28]).to.include(sig![64]);
        expect(recoverAddress(digest, toHex(sig!))).to.equal(address);
        expect(toHex(recoverSigner(digest, sig!)!)).to.equal(address.toLowerCase());
        count++;
      }
    }
    expect(count).to.equal(10 * 62);
  });

  it("recovers what ethers recovers, and nothing for a tampered digest's signer", () => {
    const secret = randomBytes(32);
    const key = new SigningKey(secret);
    for (let i = 0; i < 50; i++) {
      const digest = randomBytes(32);
      const sig = getBytes(key.sign(digest).serialized);
      expect(toHex(recoverSigner(digest, sig)!)).to.equal(recoverAddress(digest, hexlify(sig)).toLowerCase());
      const other = Uint8Array.from(digest);
      other[i % 32] ^= 1;
      const wrong = recoverSigner(other, sig);
      if (wrong !== undefined) expect(toHex(wrong)).to.not.equal(computeAddress(key.publicKey).toLowerCase());
    }
  });

  it("refuses signatures the chain refuses: v 0/1 or 29, high s, zero r or s, r ≥ n, wrong sizes", () => {
    const key = new SigningKey(randomBytes(32));
    const digest = randomBytes(32);
    const good = getBytes(key.sign(digest).serialized);
    expect(recoverSigner(digest, good)).to.not.equal(undefined);
    const mutate = (f: (s: Uint8Array) => void) => {
      const s = Uint8Array.from(good);
      f(s);
      return s;
    };
    // The malleable twin (n - s, other v): a valid ECDSA signature of the same key that
    // OpenZeppelin (and ethers, by its top bit) refuses; the host must refuse it too.
    const s = BigInt(hexlify(good.subarray(32, 64)));
    const twin = mutate((x) => {
      x.set(getBytes(toBeHex(N - s, 32)), 32);
      x[64] = x[64] === 27 ? 28 : 27;
    });
    expect(isLowS(twin)).to.equal(false);
    expect(recoverSigner(digest, twin)).to.equal(undefined);
    for (const v of [0, 1, 29, 255]) expect(recoverSigner(digest, mutate((x) => (x[64] = v))), `v ${v}`).to.equal(undefined);
    expect(recoverSigner(digest, mutate((x) => x.fill(0, 0, 32))), "r = 0").to.equal(undefined);
    expect(recoverSigner(digest, mutate((x) => x.fill(0, 32, 64))), "s = 0").to.equal(undefined);
    expect(recoverSigner(digest, mutate((x) => x.fill(0xff, 0, 32))), "r ≥ n").to.equal(undefined);
    expect(recoverSigner(digest, good.subarray(0, 64))).to.equal(undefined);
    expect(recoverSigner(digest.subarray(0, 31), good)).to.equal(undefined);
    expect(isLowS(getBytes(toBeHex(N / 2n, 32)), 0)).to.equal(true);
    expect(isLowS(getBytes(toBeHex(N / 2n + 1n, 32)), 0)).to.equal(false);
  });

  it("derives addresses from uncompressed public keys as ethers does", () => {
    for (let i = 0; i < 20; i++) {
      const key = new SigningKey(randomBytes(32));
      expect(toHex(publicKeyToAddress(getBytes(key.publicKey)))).to.equal(computeAddress(key.publicKey).toLowerCase());
    }
    expect(() => publicKeyToAddress(getBytes(keccak256("0x01")))).to.throw(RangeError);
  });
});
