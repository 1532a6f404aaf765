import { expect } from "chai";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { ConfigError, configMarkdownTable, loadConfig, redactedConfig } from "../../oracle/src/config";
import { createLogger } from "../../oracle/src/log";
import { REPO_ROOT } from "../../oracle/src/paths";
import { Wallet, encryptKeystoreJsonSync } from "ethers";

const KEY = "0x" + "ab".repeat(32);

function problems(env: Record<string, string>, file?: string): string[] {
  try {
    loadConfig({ env, file });
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error("expected a ConfigError");
}

describe("node config", () => {
  it("starts from defaults with only a key, and resolves the deployment file from the network", () => {
    const cfg = loadConfig({ env: { ORACLE_PRIVATE_KEY: KEY, ORACLE_NETWORK: "sepolia" }, cwd: "/srv/oracle" });
    expect(cfg.privateKeys).to.deep.equal([KEY]);
    expect(cfg.confirmations).to.equal(2);
    expect(cfg.deploymentPath).to.equal("/srv/oracle/deployments/sepolia.json");
    expect(cfg.redisUrl).to.equal(undefined);
    expect(cfg.jobConcurrency).to.equal(4 * cfg.batchSize * cfg.runners);
  });

  it("says which variable is missing and what it must be", () => {
    const [p] = problems({});
    expect(p).to.match(/^ORACLE_PRIVATE_KEY is required: a 32-byte hex key/);
  });

  it("rejects a malformed key without printing it", () => {
    const secret = "0xdeadbeef";
    const ps = problems({ ORACLE_PRIVATE_KEY: secret });
    expect(ps[0]).to.match(/^ORACLE_PRIVATE_KEY must be a 32-byte hex key/);
    expect(ps.join("\n")).to.not.include("deadbeef");
    expect(ps[0]).to.include("value hidden");
  });

  it("accepts several comma-separated keys, with or without 0x", () => {
    const cfg = loadConfig({ env: { ORACLE_PRIVATE_KEY: `${KEY}, ${"cd".repeat(32)}` } });
    expect(cfg.privateKeys).to.deep.equal([KEY, "0x" + "cd".repeat(32)]);
  });

  it("lists every bad option at once, with the value for non-secrets", () => {
    const ps = problems({ ORACLE_PRIVATE_KEY: KEY, ORACLE_CONFIRMATIONS: "-1", ORACLE_BATCH_SIZE: "lots", REDIS_URL: "localhost:6379", LOG_LEVEL: "loud" });
    expect(ps).to.have.length(4);
    expect(ps.find((p) => p.startsWith("ORACLE_CONFIRMATIONS"))).to.equal('ORACLE_CONFIRMATIONS must be an integer from 0 to 1000 (from environment ORACLE_CONFIRMATIONS; got "-1")');
    expect(ps.find((p) => p.startsWith("ORACLE_BATCH_SIZE"))).to.include('got "lots"');
    expect(ps.find((p) => p.startsWith("REDIS_URL"))).to.include("a redis:// or rediss:// URL").and.include("value hidden");
    expect(ps.find((p) => p.startsWith("LOG_LEVEL"))).to.include("one of fatal");
  });

  it("reads a JSON file, lets the environment win, and rejects unknown keys", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cfg-"));
    const file = path.join(dir, "c.json");
    fs.writeFileSync(file, JSON.stringify({ privateKeys: [KEY], batchSize: 8, confirmations: 5 }));
    const cfg = loadConfig({ env: { ORACLE_CONFIRMATIONS: "1" }, file });
    expect(cfg.batchSize).to.equal(8);
    expect(cfg.confirmations).to.equal(1);
    fs.writeFileSync(file, JSON.stringify({ privateKeys: [KEY], batchsize: 8 }));
    expect(problems({}, file)[0]).to.include('unknown option "batchsize"');
    fs.writeFileSync(file, "{ not json");
    expect(problems({}, file)[0]).to.include("cannot be read as JSON");
  });

  it("never shows secrets in the redacted config or the logs", () => {
    const cfg = loadConfig({ env: { ORACLE_PRIVATE_KEY: KEY, REDIS_URL: "redis://:hunter2@db:6379", RPC_URL: "https://eth.example/v2/APIKEY123" } });
    const shown = JSON.stringify(redactedConfig(cfg));
    expect(shown).to.not.include("abab").and.not.include("hunter2").and.not.include("APIKEY123");
    let out = "";
    const sink = new Writable({ write(chunk, _enc, cb) { out += chunk.toString(); cb(); } });
    const log = createLogger({ destination: sink });
    log.info({ config: cfg }, "raw config by mistake");
    log.info({ privateKey: KEY, nested: { redisUrl: cfg.redisUrl } }, "more mistakes");
    expect(out).to.include("raw config by mistake");
    expect(out).to.not.include("abab").and.not.include("hunter2").and.not.include("APIKEY123");
  });

  it("an operator who sets RPC_URL=ws://… is told at once that the node needs an http(s) endpoint", () => {
    for (const url of ["ws://127.0.0.1:8546", "wss://eth.example/ws/APIKEY123"]) {
      const [p] = problems({ ORACLE_PRIVATE_KEY: KEY, RPC_URL: url });
      expect(p).to.match(/^RPC_URL must be an http:\/\/ or https:\/\/ URL/).and.include("ws:// and wss:// are not supported");
      expect(p).to.not.include("APIKEY123");
    }
  });

  it("an operator without Redis sees no redisUrl \"[secret]\" in the start log", () => {
    const cfg = loadConfig({ env: { ORACLE_PRIVATE_KEY: KEY } });
    let out = "";
    const sink = new Writable({ write(chunk, _enc, cb) { out += chunk.toString(); cb(); } });
    createLogger({ destination: sink }).info({ config: redactedConfig(cfg) }, "starting oracle node");
    expect(out).to.include("starting oracle node").and.include('"rpcUrl":"[secret]"');
    expect(out).to.not.include("redisUrl");
  });

  it("documents every option in the generated table, and docs/operators.md carries that table as generated", () => {
    const table = configMarkdownTable();
    expect(table).to.include("`ORACLE_PRIVATE_KEY`").and.include("**required**").and.include("`REDIS_URL`").and.include("`ORACLE_KEYSTORE`");
    const docs = fs.readFileSync(path.join(REPO_ROOT, "docs", "operators.md"), "utf8");
    expect(docs.includes(table), "docs/operators.md's option table differs from configMarkdownTable(): paste it again").to.equal(true);
  });

  describe("keys kept off the environment", () => {
    let dir: string;
    const ADDRESS = new Wallet(KEY).address;
    const write = (name: string, text: string, mode = 0o600) => {
      const file = path.join(dir, name);
      fs.writeFileSync(file, text, { mode });
      fs.chmodSync(file, mode);
      return file;
    };
    before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "keys-")); });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("reads ORACLE_PRIVATE_KEY_FILE (one key a line, # comments), relative to the working directory", () => {
      write("keys", `# operator first\n${KEY.slice(2)}\n\n0x${"cd".repeat(32)}\n`);
      const cfg = loadConfig({ env: { ORACLE_PRIVATE_KEY_FILE: "keys" }, cwd: dir });
      expect(cfg.privateKeys).to.deep.equal([KEY, "0x" + "cd".repeat(32)]);
    });

    it("refuses a key file or password file other users can read, and says the chmod", () => {
      const open = write("open-keys", KEY, 0o644);
      expect(problems({ ORACLE_PRIVATE_KEY_FILE: open })).to.deep.equal([`ORACLE_PRIVATE_KEY_FILE ${open} can be read by other users (mode 644): chmod 600 ${open}`]);
      const store = write("ks.json", encryptKeystoreJsonSync({ address: ADDRESS, privateKey: KEY }, "pw", { scrypt: { N: 1024 } }));
      const pw = write("pw-open", "pw\n", 0o640);
      expect(problems({ ORACLE_KEYSTORE: store, ORACLE_KEYSTORE_PASSWORD_FILE: pw })[0]).to.equal(`ORACLE_KEYSTORE_PASSWORD_FILE ${pw} can be read by other users (mode 640): chmod 600 ${pw}`);
    });

    it("says which key of a key file is malformed, without printing it, and names a missing file", () => {
      const file = write("bad-keys", `${KEY}\n0xdeadbeef\n`);
      const [p] = problems({ ORACLE_PRIVATE_KEY_FILE: file });
      expect(p).to.equal(`ORACLE_PRIVATE_KEY_FILE ${file}: key 2 is not a 32-byte hex key (64 hex digits, optional 0x; the value is not shown)`);
      expect(problems({ ORACLE_PRIVATE_KEY_FILE: path.join(dir, "nope") })[0]).to.match(/^ORACLE_PRIVATE_KEY_FILE .*nope cannot be read \(ENOENT\)$/);
    });

    it("decrypts ORACLE_KEYSTORE with the password from its file, and keeps the password nowhere in the config", () => {
      const store = write("op.json", encryptKeystoreJsonSync({ address: ADDRESS, privateKey: KEY }, "correct horse", { scrypt: { N: 1024 } }));
      const pw = write("pw", "correct horse\n");
      const cfg = loadConfig({ env: { ORACLE_KEYSTORE: store, ORACLE_KEYSTORE_PASSWORD_FILE: pw } });
      expect(cfg.privateKeys).to.deep.equal([KEY]);
      const viaEnv = loadConfig({ env: { ORACLE_KEYSTORE: store, ORACLE_KEYSTORE_PASSWORD: "correct horse" } });
      expect(viaEnv.privateKeys).to.deep.equal([KEY]);
      expect(viaEnv.keystorePassword, "the password is dropped once used").to.equal(undefined);
      expect(JSON.stringify(redactedConfig(viaEnv))).to.not.include("horse").and.not.include("abab");
    });

    it("refuses a wrong password, a file that is not a keystore, a keystore without a password, and two key sources at once", () => {
      const store = write("op2.json", encryptKeystoreJsonSync({ address: ADDRESS, privateKey: KEY }, "right", { scrypt: { N: 1024 } }));
      const [wrong] = problems({ ORACLE_KEYSTORE: store, ORACLE_KEYSTORE_PASSWORD: "wrong" });
      expect(wrong).to.equal(`ORACLE_KEYSTORE ${store} cannot be decrypted: the password is wrong`);
      const notStore = write("junk.json", '{"hello":1}');
      expect(problems({ ORACLE_KEYSTORE: notStore, ORACLE_KEYSTORE_PASSWORD: "right" })[0]).to.include("is not an encrypted JSON keystore");
      expect(problems({ ORACLE_KEYSTORE: store })[0]).to.match(/^ORACLE_KEYSTORE needs its password: set ORACLE_KEYSTORE_PASSWORD_FILE/);
      expect(problems({ ORACLE_KEYSTORE: store, ORACLE_KEYSTORE_PASSWORD: "right", ORACLE_PRIVATE_KEY: KEY })).to.deep.equal([
        "give the sending keys one way, not ORACLE_PRIVATE_KEY and ORACLE_KEYSTORE: ORACLE_PRIVATE_KEY, ORACLE_PRIVATE_KEY_FILE or ORACLE_KEYSTORE",
      ]);
      for (const p of [wrong, ...problems({ ORACLE_KEYSTORE: store, ORACLE_KEYSTORE_PASSWORD: "wrong" })]) expect(p).to.not.include("wrong\"").and.not.include("abab");
    });

    it("asks for no key at all where a command only reads (keys: false)", () => {
      expect(loadConfig({ env: {}, keys: false }).privateKeys).to.deep.equal([]);
    });
  });
});
