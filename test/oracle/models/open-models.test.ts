import { expect } from "chai";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { solidityPacked } from "ethers";
import { onnx } from "onnx-proto";
import { execFileSync } from "node:child_process";
import { ModelCache } from "../../../oracle/src/models/cache";
import { elementTypeName, summarize } from "../../../oracle/src/models/inspect";
import { checkModel } from "../../../oracle/src/models/check";
import { encodeInput } from "../../../oracle/src/models/codec";
import { ModelFetcher, ModelFetchError } from "../../../oracle/src/models/fetch";
import { loadManifest } from "../../../oracle/src/models/manifest";
import { readMetadataProps } from "../../../oracle/src/models/onnx-metadata";
import { packModel } from "../../../oracle/src/models/pack";
import { ModelDeclinedError, ModelProvisioner } from "../../../oracle/src/models/provision";
import { onChainSpecOf, specMismatches } from "../../../oracle/src/models/publish";
import { SPEC_KEY, readModelSpec } from "../../../oracle/src/models/spec";
import { ModelStore } from "../../../oracle/src/models/store";
import { ResultStatus } from "../../../oracle/src/protocol";
import { sha256Hex } from "../../../oracle/src/protocol/bytes";
import { InputEncoding } from "../../../oracle/src/protocol/constants";
import { INPUT_ENCODING_NAMES, checkInputLength, decodeInput as decodeInputValues, encodeInput as encodeInputValues, encodingRange, packedNumber } from "../../../oracle/src/protocol/input";
import { affineModel, deepModel, floatSpec, hugeTensorModel, int64BombModel, notOnnx, unknownOpModel } from "./hostile-fixtures";
import { prng } from "./helpers";

const MODELS = path.resolve(__dirname, "../../../models");
const catalogue = loadManifest(MODELS);

describe("open models: the file is the spec", () => {
  it("reads metadata_props exactly as the full onnx-proto decode does, for every shipped model and a packed one", () => {
    const files = [...catalogue.models.map((m) => fs.readFileSync(path.join(MODELS, m.file))), affineModel()];
    for (const bytes of files) {
      const full = onnx.ModelProto.decode(bytes).metadataProps.map((p) => [p.key, p.value]);
      expect(readMetadataProps(bytes)).to.deep.equal(full);
    }
  });

  it("each shipped model's file carries the spec the catalogue copies", () => {
    for (const m of catalogue.models) {
      const spec = readModelSpec(fs.readFileSync(path.join(MODELS, m.file)));
      expect(spec).to.deep.include({ name: m.name, decimals: m.decimals, determinism: m.determinism, input: m.input, output: m.output });
    }
  });

  it("refuses a file with no spec, a second spec, or no ONNX at all, saying what to do", () => {
    const plain = onnx.ModelProto.encode({ irVersion: 8, graph: { name: "g" } }).finish();
    expect(() => readModelSpec(plain)).to.throw(/no "oracle.spec".*oracle model pack/);
    const twice = onnx.ModelProto.encode({ irVersion: 8, graph: { name: "g" }, metadataProps: [{ key: SPEC_KEY, value: "{}" }, { key: SPEC_KEY, value: "{}" }] }).finish();
    expect(() => readModelSpec(twice)).to.throw(/2 "oracle.spec" entries/);
    expect(() => readModelSpec(notOnnx())).to.throw(/not an ONNX model/);
    const bad = onnx.ModelProto.encode({ irVersion: 8, graph: { name: "g" }, metadataProps: [{ key: SPEC_KEY, value: JSON.stringify({ ...floatSpec("x"), determinism: "bit-exact" }) }] }).finish();
    expect(() => readModelSpec(bad)).to.throw(/determinism/);
  });

  it("pack replaces the spec, keeps other metadata, and the store serves the packed file", async () => {
    const once = affineModel("affine-once");
    const again = packModel(once, floatSpec("affine-again")).bytes;
    const props = readMetadataProps(again);
    expect(props.filter(([k]) => k === SPEC_KEY)).to.have.length(1);
    expect(readModelSpec(again).name).to.equal("affine-again");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pack-"));
    fs.writeFileSync(path.join(dir, "anything.onnx"), again);
    const store = new ModelStore({ dir });
    try {
      // y = 2·1.5 + 1 = 4, at the spec's 3 decimals
      const r = await store.infer(sha256Hex(again), encodeInput([1.5], readModelSpec(again)));
      expect(r.status).to.equal(ResultStatus.Ok);
      expect(BigInt("0x" + r.output.slice(-64))).to.equal(4000n);
    } finally {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("open models: compact input encodings", () => {
  it("the runner's packed reader and length check agree with the protocol codec and Solidity's abi.encodePacked (fuzz)", () => {
    const rand = prng(7);
    const types = ["", "int8", "int16", "int32", "int64"];
    for (let enc = InputEncoding.PackedInt8; enc <= InputEncoding.PackedInt64; enc++) {
      const [lo, hi] = encodingRange(enc);
      for (let round = 0; round < 200; round++) {
        const n = 1 + Math.floor(rand() * 20);
        const values = Array.from({ length: n }, () => {
          const r = rand();
          if (r < 0.1) return lo;
          if (r < 0.2) return hi;
          return lo + (BigInt(Math.floor(rand() * 2 ** 32)) * BigInt(Math.floor(rand() * 2 ** 32))) % (hi - lo + 1n);
        });
        const hex = encodeInputValues(values, enc);
        expect(hex, INPUT_ENCODING_NAMES[enc]).to.equal(solidityPacked(values.map(() => types[enc]), values));
        const bytes = Buffer.from(hex.slice(2), "hex");
        checkInputLength(bytes, enc, n);
        const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        const read = values.map((_, i) => packedNumber(view, enc, i));
        expect(read.map((x, i) => (x === undefined ? decodeInputValues(bytes, n, enc)[i] : BigInt(x)))).to.deep.equal(decodeInputValues(bytes, n, enc));
        expect(() => checkInputLength(bytes.subarray(1), enc, n)).to.throw(RangeError, /bytes/);
      }
      expect(() => encodeInputValues([hi + 1n], enc)).to.throw(RangeError, /does not fit/);
    }
  });

  it("the digit model takes 784 packed int8 pixels and refuses a pixel below 0 as InputOutOfRange", async () => {
    const mnist = catalogue.models.find((m) => m.name === "mnist-digits-int")!;
    const store = new ModelStore({ dir: MODELS });
    try {
      const blank = encodeInput(new Array(784).fill(0), mnist);
      expect((blank.length - 2) / 2).to.equal(784);
      expect((await store.infer(mnist.sha256, blank)).status).to.equal(ResultStatus.Ok);
      const neg = encodeInput([-1, ...new Array(783).fill(0)], mnist);
      expect((await store.infer(mnist.sha256, neg)).status).to.equal(ResultStatus.InputOutOfRange);
    } finally {
      await store.close();
    }
  });
});

describe("oracle model check", function () {
  this.timeout(60_000);
  it("passes every shipped model and names its determinism class", async () => {
    for (const m of catalogue.models) {
      const r = await checkModel(fs.readFileSync(path.join(MODELS, m.file)));
      expect(r.ok, `${m.name}: ${JSON.stringify(r.problems)}`).to.equal(true);
      expect(r.integerOnly).to.equal(m.determinism === "bit-exact");
      expect(r.selfTest!.agreed).to.equal(true);
    }
  });

  it("refuses an unknown operator, a deep graph, a file that is not ONNX, and a model without a spec, each with a fix", async () => {
    const unknown = await checkModel(unknownOpModel());
    expect(unknown.problems.map((p) => p.rule)).to.include("ops");
    expect(unknown.problems.find((p) => p.rule === "ops")!.fix).to.match(/allow-list/);
    const deep = await checkModel(deepModel(6000));
    expect(deep.problems.find((p) => p.rule === "limits")!.message).to.match(/6000 nodes/);
    const junk = await checkModel(notOnnx());
    expect(junk.ok).to.equal(false);
    expect(junk.problems[0].fix).to.match(/\.onnx file/);
    const bare = onnx.ModelProto.encode({ irVersion: 8, opsetImport: [{ domain: "", version: 17 }], graph: { name: "g" } }).finish();
    expect((await checkModel(bare)).problems.find((p) => p.rule === "spec")!.fix).to.match(/oracle model pack/);
  });

  it("refuses a custom operator domain and a bit-exact claim on a float graph", async () => {
    const model = onnx.ModelProto.decode(affineModel());
    model.opsetImport.push(onnx.OperatorSetIdProto.create({ domain: "com.evil", version: 1 }));
    const r = await checkModel(onnx.ModelProto.encode(model).finish());
    expect(r.problems.find((p) => p.rule === "opset")!.fix).to.match(/no custom operators/);
    const claim = packModel(affineModel(), { ...floatSpec("claims"), input: { ...floatSpec("claims").input, type: "int32" }, output: { ...floatSpec("claims").output, type: "int32" }, decimals: 0, determinism: "bit-exact" }).bytes;
    const c = await checkModel(claim);
    expect(c.ok).to.equal(false);
    expect(c.problems.map((p) => p.rule)).to.include("determinism");
  });
});

describe("an untrusted model file is summarized without being decoded", function () {
  this.timeout(120_000);
  /** The summary as the full onnx-proto decode gives it: what `summarize` must equal. */
  function decodedSummary(bytes: Uint8Array) {
    const m = onnx.ModelProto.decode(bytes);
    const g = m.graph as onnx.GraphProto;
    const type = (c: number | null | undefined) => elementTypeName(c);
    const value = (v: onnx.IValueInfoProto) => ({
      name: v.name ?? "", type: v.type?.tensorType ? type(v.type.tensorType.elemType) : "not a tensor",
      shape: (v.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : Number(d.dimValue))),
    });
    const inits = new Set(g.initializer.map((t) => t.name));
    const ops: Record<string, number> = {};
    for (const n of g.node) { const k = n.domain && n.domain !== "ai.onnx" ? `${n.domain}::${n.opType}` : String(n.opType); ops[k] = (ops[k] ?? 0) + 1; }
    return {
      sha256: sha256Hex(bytes), bytes: bytes.length, irVersion: Number(m.irVersion), producer: `${m.producerName} ${m.producerVersion}`.trim(),
      opsets: m.opsetImport.map((o) => ({ domain: o.domain || "ai.onnx", version: Number(o.version) })),
      inputs: g.input.filter((v) => !inits.has(v.name)).map(value), outputs: g.output.map(value), nodes: g.node.length, ops,
      initializers: g.initializer.length, parameters: g.initializer.reduce((a, t) => a + (t.dims ?? []).reduce<number>((x, d) => x * Number(d), 1), 0),
      initializerTypes: [...new Set(g.initializer.map((t) => type(t.dataType)))].sort(),
      castTo: g.node.filter((n) => n.opType === "Cast").map((n) => type(Number((n.attribute ?? []).find((a) => a.name === "to")?.i ?? 0))),
      metadata: Object.fromEntries(m.metadataProps.map((p) => [p.key, p.value])),
    };
  }

  it("reads what the full onnx-proto decode reads, for every shipped model and the hostile ones", () => {
    const files = [...catalogue.models.map((m) => fs.readFileSync(path.join(MODELS, m.file))), affineModel(), deepModel(50), unknownOpModel(), hugeTensorModel(10), int64BombModel(1000)];
    for (const bytes of files) expect(summarize(bytes)).to.deep.equal(decodedSummary(bytes));
    expect(() => summarize(notOnnx())).to.throw(/the file is not an ONNX model/);
  });

  it("a 60 MB file of packed int64 zeros is summarized within a 160 MB heap (a full decode needs ~3.5 GB and blocks for seconds)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bomb-"));
    try {
      const file = path.join(dir, "bomb.onnx");
      fs.writeFileSync(file, int64BombModel(60_000_000));
      const script = `const s = require("./oracle/src/models/inspect").summarize(require("fs").readFileSync(process.argv[1]));
        console.log(JSON.stringify({ initializers: s.initializers, parameters: s.parameters, types: s.initializerTypes }));`;
      const out = execFileSync(process.execPath, ["--max-old-space-size=160", "-r", "ts-node/register/transpile-only", "-e", script, file], {
        cwd: path.resolve(__dirname, "../../.."), encoding: "utf8", stdio: ["ignore", "pipe", "pipe"],
      });
      // Counted by the declared dims (the node then declines or quarantines it on what it says).
      expect(JSON.parse(out)).to.deep.equal({ initializers: 3, parameters: 3, types: ["float32", "int64"] });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("model distribution: fetch by URI, sha256 first, cache by hash", function () {
  this.timeout(30_000);
  const model = affineModel("served");
  const hash = sha256Hex(model);
  let server: http.Server;
  let base: string;
  let dir: string;
  /** A fetcher of a node whose operator allows private hosts: the test's server listens on 127.0.0.1. */
  const fetcher = (limits = {}, mirrors: string[] = [], trust: { privateHosts?: boolean; fileUris?: boolean } = { privateHosts: true }) =>
    new ModelFetcher({ cache: new ModelCache(path.join(dir, `c${Math.random()}`)), mirrors, limits, ...trust });
  let hits = 0;

  before(async () => {
    server = http.createServer((req, res) => {
      hits++;
      const url = req.url ?? "";
      if (url === "/model.onnx" || url === `/mirror/${hash.slice(2)}.onnx`) { res.end(Buffer.from(model)); return; }
      if (url === "/loop") { res.writeHead(302, { location: "/loop" }); res.end(); return; }
      if (url === "/hop") { res.writeHead(301, { location: "/model.onnx" }); res.end(); return; }
      if (url === "/big") { res.writeHead(200, { "content-length": String(10_000_000) }); res.end(); return; }
      if (url === "/liar") { res.write(Buffer.alloc(5000)); res.end(Buffer.alloc(5000)); return; }
      if (url === "/slow") { res.write(Buffer.alloc(10)); const t = setInterval(() => res.write(Buffer.alloc(1)), 50); res.on("close", () => clearInterval(t)); return; }
      if (url === "/other") { res.end(Buffer.from(affineModel("other"))); return; }
      res.statusCode = 404; res.end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "fetch-"));
  });
  after(() => { server.close(); fs.rmSync(dir, { recursive: true, force: true }); });

  const reason = async (p: Promise<unknown>) => { const e = await p.then(() => undefined, (err) => err); expect(e).to.be.instanceOf(ModelFetchError); return e as ModelFetchError; };

  it("fetches over http, follows a redirect, caches by hash, and serves the cached file without fetching again", async () => {
    const f = fetcher();
    const file = await f.ensure(hash, `${base}/hop`);
    expect(path.basename(file)).to.equal(`${hash.slice(2)}.onnx`);
    expect(sha256Hex(fs.readFileSync(file))).to.equal(hash);
    expect(await f.ensure(hash, `${base}/nothing-there`)).to.equal(file);
    expect(f.cache.list().map((m) => m.name)).to.deep.equal(["served"]);
  });

  it("refuses bytes with another hash and writes nothing", async () => {
    const f = fetcher();
    expect((await reason(f.ensure(hash, `${base}/other`))).reason).to.equal("hash-mismatch");
    expect(f.cache.has(hash)).to.equal(false);
  });

  it("stops a redirect loop, an oversize answer (declared or not), and a server that trickles bytes", async () => {
    expect((await reason(fetcher().ensure(hash, `${base}/loop`))).message).to.match(/more than 3 redirects/);
    expect((await reason(fetcher({ maxBytes: 1_000_000 }).ensure(hash, `${base}/big`))).reason).to.equal("too-large");
    expect((await reason(fetcher({ maxBytes: 8000 }).ensure(hash, `${base}/liar`))).reason).to.equal("too-large");
    const t0 = Date.now();
    expect((await reason(fetcher({ timeoutMs: 400 }).ensure(hash, `${base}/slow`))).reason).to.equal("timeout");
    expect(Date.now() - t0).to.be.lessThan(3000);
  });

  it("limits concurrent fetches, naming the limit", async () => {
    const f = fetcher({ maxConcurrent: 1, timeoutMs: 500 });
    const first = f.ensure(hash, `${base}/slow`).catch(() => undefined);
    const other = affineModel("busy");
    expect((await reason(f.ensure(sha256Hex(other), `${base}/slow`))).reason).to.equal("busy");
    await first;
  });

  it("resolves sha256: URIs against http and file:// mirrors, and refuses unknown schemes", async () => {
    expect(await fetcher({}, [`${base}/nowhere`, `${base}/mirror`]).ensure(hash, `sha256:${hash.slice(2)}`)).to.match(/\.onnx$/);
    const folder = path.join(dir, "mirror-folder");
    fs.mkdirSync(folder);
    fs.writeFileSync(path.join(folder, "named-anything.onnx"), model);
    expect(await fetcher({}, [`file://${folder}`]).ensure(hash, `sha256:${hash.slice(2)}`)).to.match(/\.onnx$/);
    expect((await reason(fetcher().ensure(hash, "ipfs://Qm123"))).reason).to.equal("unsupported-uri");
    expect((await reason(fetcher().ensure(hash, `sha256:${hash.slice(2)}`))).message).to.match(/no model mirror/);
  });

  it("a registry URI cannot make the node read its own files: file:// is refused (the key file, /dev/zero) and nothing is read", async () => {
    const secret = path.join(dir, "operator-password");
    fs.writeFileSync(secret, "hunter2\n", { mode: 0o600 });
    const guess = sha256Hex(new TextEncoder().encode("hunter2\n"));
    for (const uri of [`file://${secret}`, "file:///dev/zero", "file:///proc/self/environ"]) {
      const e = await reason(fetcher().ensure(guess, uri));
      expect(e.reason, uri).to.equal("unsupported-uri");
      expect(e.message).to.include("never where a registry entry points").and.not.include("sha256 0x");
    }
    // The provisioner declines it for good, with the reason; the file's hash is never computed.
    const cache = new ModelCache(path.join(dir, "node-files"));
    const p = new ModelProvisioner({ fetcher: new ModelFetcher({ cache }), registration: async () => ({ modelHash: guess, uri: `file://${secret}` }) });
    const declined = await p.prepare(9n, guess).catch((e) => e);
    expect(declined).to.be.instanceOf(ModelDeclinedError);
    expect(declined.reason).to.equal("fetch-unsupported-uri");
    expect(cache.has(guess)).to.equal(false);
    // The operator's own file:// (a mirror folder, `oracle model fetch --uri`) still works, for regular files only.
    const e = await reason(fetcher({}, [], { fileUris: true }).ensure(guess, "file:///dev/zero"));
    expect(e.message).to.equal("/dev/zero is not a regular file");
  });

  it("a registry URI cannot aim the node at its own network: loopback, private and link-local hosts are refused before any connection, by address or by name", async () => {
    const before = hits;
    const port = (server.address() as AddressInfo).port;
    for (const uri of [`${base}/model.onnx`, `http://localhost:${port}/model.onnx`, `http://[::ffff:127.0.0.1]:${port}/model.onnx`, "http://169.254.169.254/latest/meta-data/", "http://10.1.2.3/m.onnx", "http://[fe80::1]/m.onnx"]) {
      const e = await reason(fetcher({}, [], {}).ensure(hash, uri));
      expect(e.reason, uri).to.equal("private-address");
      expect(e.message).to.include("ORACLE_MODEL_ALLOW_PRIVATE_HOSTS=true");
    }
    expect(hits, "requests that reached the private server").to.equal(before);
    // Declined, not retried: the URI itself is the problem.
    const p = new ModelProvisioner({ fetcher: new ModelFetcher({ cache: new ModelCache(path.join(dir, "node-ssrf")) }), registration: async () => ({ modelHash: hash, uri: `${base}/model.onnx` }) });
    expect((await p.prepare(3n, hash).catch((err) => err)).reason).to.equal("fetch-private-address");
    expect(hits).to.equal(before);
    // The operator's mirrors are its own: a mirror on the private network still serves.
    expect(await fetcher({}, [`${base}/mirror`], {}).ensure(hash, `sha256:${hash.slice(2)}`)).to.match(/\.onnx$/);
  });

  it("pins survive eviction; unpinned files go least recently used first", () => {
    const cache = new ModelCache(path.join(dir, "evict"), { maxBytes: model.length + 10 });
    const a = affineModel("a"), b = affineModel("b"), c = affineModel("c");
    cache.put(sha256Hex(a), a);
    cache.pin(sha256Hex(a));
    cache.put(sha256Hex(b), b);
    cache.put(sha256Hex(c), c);
    expect(cache.has(sha256Hex(a))).to.equal(true);
    expect(cache.has(sha256Hex(b))).to.equal(false);
    expect(cache.has(sha256Hex(c))).to.equal(true);
  });

  it("the node declines a model whose registration differs from its file, or that cannot be fetched, with the reason", async () => {
    const cache = new ModelCache(path.join(dir, "node"));
    const spec = readModelSpec(model);
    const lying = { ...onChainSpecOf(hash, spec, { fee: 1n, uri: `${base}/model.onnx`, publisherShareBps: 0 }), decimals: 6 };
    expect(specMismatches(lying, hash, spec)).to.deep.equal(["decimals: registry 6, file 3"]);
    const declines: string[] = [];
    const p = new ModelProvisioner({ fetcher: new ModelFetcher({ cache, privateHosts: true }), registration: async () => lying, onDecline: (e) => declines.push(e.reason) });
    const err = await p.prepare(1n, hash).catch((e) => e);
    expect(err).to.be.instanceOf(ModelDeclinedError);
    expect(err.transient).to.equal(false);
    expect(err.message).to.match(/decimals: registry 6, file 3/);
    const wrong = new ModelProvisioner({ fetcher: new ModelFetcher({ cache: new ModelCache(path.join(dir, "node2")), privateHosts: true }), registration: async () => ({ modelHash: hash, uri: `${base}/other` }) });
    expect((await wrong.prepare(1n, hash).catch((e) => e)).reason).to.equal("fetch-hash-mismatch");
    const honest = new ModelProvisioner({ fetcher: new ModelFetcher({ cache: new ModelCache(path.join(dir, "node3")), privateHosts: true }), registration: async () => ({ ...lying, decimals: 3 }) });
    expect((await honest.prepare(1n, hash)).name).to.equal("served");
    expect(declines).to.deep.equal(["spec-mismatch"]);
  });
});
