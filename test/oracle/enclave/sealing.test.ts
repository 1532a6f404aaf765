import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { deriveSealingKey, sealKey, unsealKey, UnsealError } from "../../../oracle/src/enclave/sealing";

describe("sealing of the runner key", () => {
  const secret = randomBytes(32);
  const measurement = "0x" + "ab".repeat(32);
  const other = "0x" + "cd".repeat(32);
  const key = randomBytes(32);

  it("round-trips under the same platform secret and measurement", () => {
    const sealed = sealKey(deriveSealingKey(secret, measurement), measurement, "0x" + "00".repeat(20), key);
    expect(unsealKey(deriveSealingKey(secret, measurement), measurement, sealed).equals(key)).to.equal(true);
  });

  it("holds no copy of the key in hex, raw or base64", () => {
    const text = JSON.stringify(sealKey(deriveSealingKey(secret, measurement), measurement, "0x" + "00".repeat(20), key));
    expect(text).to.not.include(key.toString("hex"));
    expect(text).to.not.include(key.toString("base64"));
    expect(Buffer.from(text).includes(key)).to.equal(false);
  });

  it("refuses to open under another measurement, even with the file's label rewritten", () => {
    const sealed = sealKey(deriveSealingKey(secret, measurement), measurement, "0x" + "00".repeat(20), key);
    expect(() => unsealKey(deriveSealingKey(secret, other), other, sealed)).to.throw(UnsealError, /belongs to measurement/);
    const relabelled = { ...sealed, measurement: other };
    expect(() => unsealKey(deriveSealingKey(secret, other), other, relabelled)).to.throw(UnsealError, /authentication failed/);
  });

  it("refuses to open on another platform (another secret)", () => {
    const sealed = sealKey(deriveSealingKey(secret, measurement), measurement, "0x" + "00".repeat(20), key);
    expect(() => unsealKey(deriveSealingKey(randomBytes(32), measurement), measurement, sealed)).to.throw(UnsealError);
  });

  it("derives different keys for different measurements", () => {
    expect(deriveSealingKey(secret, measurement).equals(deriveSealingKey(secret, other))).to.equal(false);
  });
});
