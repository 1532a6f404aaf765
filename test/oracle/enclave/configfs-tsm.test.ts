import { expect } from "chai";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { getBytes, keccak256, Wallet } from "ethers";
import { ConfigfsTsmBackend, TsmError, reportDataFor, type TsmFs } from "../../../oracle/src/enclave/tee/configfs-tsm";
import { TeeType } from "../../../oracle/src/protocol";

/**
 * A tiny fake kernel over a temp directory: mkdir creates the attribute files, a write to inblob
 * bumps generation, reading outblob returns a "quote" that embeds the report data, rmdir removes.
 */
function fakeKernel(root: string, provider: string, opts: { raceOnce?: boolean } = {}): TsmFs & { entries: string[] } {
  let raced = false;
  const entries: string[] = [];
  return {
    entries,
    mkdir(dir) {
      fs.mkdirSync(dir);
      entries.push(dir);
      fs.writeFileSync(path.join(dir, "generation"), "0\n");
      fs.writeFileSync(path.join(dir, "provider"), provider + "\n");
      fs.writeFileSync(path.join(dir, "outblob"), "");
    },
    writeFile(file, data) {
      fs.writeFileSync(file, data);
      if (path.basename(file) === "inblob") {
        const dir = path.dirname(file);
        const g = Number(fs.readFileSync(path.join(dir, "generation"), "utf8")) + 1;
        fs.writeFileSync(path.join(dir, "generation"), `${g}\n`);
        fs.writeFileSync(path.join(dir, "outblob"), Buffer.concat([Buffer.from("QUOTE:"), Buffer.from(data)]));
      }
    },
    readFile(file) {
      const data = fs.readFileSync(file);
      if (opts.raceOnce && !raced && path.basename(file) === "outblob") {
        raced = true; // another process writes inblob between our write and our read
        const g = path.join(path.dirname(file), "generation");
        fs.writeFileSync(g, `${Number(fs.readFileSync(g, "utf8")) + 1}\n`);
      }
      return data;
    },
    rmdir(dir) {
      fs.rmSync(dir, { recursive: true });
    },
  };
}

describe("configfs-tsm backend (against a fake configfs)", () => {
  let root: string;
  beforeEach(() => (root = fs.mkdtempSync(path.join(tmpdir(), "tsm-"))));
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));
  const signer = Wallet.createRandom().address;
  const req = { measurement: "0x" + "11".repeat(32), runtime: "0x" + "22".repeat(32), signer };

  it("writes keccak256(signer) ‖ 32 zero bytes as inblob and returns the outblob as TDX (dcap) evidence", async () => {
    const kernel = fakeKernel(root, "tdx_guest");
    const ev = await new ConfigfsTsmBackend({ root, fs: kernel }).attest(req);
    const expected = Buffer.concat([Buffer.from(getBytes(keccak256(signer))), Buffer.alloc(32)]);
    expect(Buffer.from(reportDataFor(signer)).equals(expected)).to.equal(true);
    expect(ev.format).to.equal("dcap");
    expect(ev.teeType).to.equal(TeeType.IntelTdx);
    expect(Buffer.from(ev.evidence).equals(Buffer.concat([Buffer.from("QUOTE:"), expected]))).to.equal(true);
    expect(ev.provider).to.equal("tdx_guest");
    expect(kernel.entries).to.have.length(1);
    expect(fs.readdirSync(root)).to.deep.equal([]); // the entry was removed
  });

  it("maps sev_guest to sev-snp evidence", async () => {
    const ev = await new ConfigfsTsmBackend({ root, fs: fakeKernel(root, "sev_guest") }).attest(req);
    expect(ev.format).to.equal("sev-snp");
    expect(ev.teeType).to.equal(TeeType.AmdSevSnp);
  });

  it("detects a race through generation and retries with a fresh entry", async () => {
    const kernel = fakeKernel(root, "tdx_guest", { raceOnce: true });
    const ev = await new ConfigfsTsmBackend({ root, fs: kernel }).attest(req);
    expect(kernel.entries).to.have.length(2);
    expect(ev.evidence.length).to.equal(70);
    expect(fs.readdirSync(root)).to.deep.equal([]);
  });

  it("fails clearly where configfs-tsm is absent or the provider is unknown", async () => {
    await new ConfigfsTsmBackend({ root: path.join(root, "missing") }).attest(req).then(
      () => expect.fail("should fail"),
      (e) => expect(e).to.be.instanceOf(TsmError).and.have.property("message").that.matches(/configfs-tsm/),
    );
    await new ConfigfsTsmBackend({ root, fs: fakeKernel(root, "mystery") }).attest(req).then(
      () => expect.fail("should fail"),
      (e) => expect(e.message).to.match(/unknown configfs-tsm provider/),
    );
  });

  it("refuses an inblob that is not 64 bytes", () => {
    expect(() => new ConfigfsTsmBackend({ root }).getEvidence(new Uint8Array(32))).to.throw(TsmError, /64 bytes/);
  });
});
