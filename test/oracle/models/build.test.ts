import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { onnx } from "onnx-proto";
import { buildModels } from "../../../oracle/src/models/build";
import { DEFAULT_MODELS_DIR, MANIFEST_FILE, loadManifest, parseManifest } from "../../../oracle/src/models/manifest";
import { sha256Hex } from "../../../oracle/src/protocol/bytes";

describe("models/build", function () {
  this.timeout(60_000);
  const committed = loadManifest();
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  it("rebuilds the committed models byte for byte, twice", async () => {
    for (let run = 0; run < 2; run++) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), `build-models-${run}-`));
      dirs.push(dir);
      const steps: string[] = [];
      const built = await buildModels(dir, { onProgress: (e) => steps.push(`${e.step}/${e.total}`) });
      expect(steps[steps.length - 1]).to.equal(`${steps.length}/${steps.length}`);
      for (const entry of committed.models) {
        const bytes = fs.readFileSync(path.join(dir, entry.file));
        expect(sha256Hex(bytes), `${entry.name} run ${run}`).to.equal(entry.sha256);
        expect(sha256Hex(fs.readFileSync(path.join(DEFAULT_MODELS_DIR, entry.file))), `committed ${entry.file}`).to.equal(entry.sha256);
      }
      // Everything but the metrics must match exactly. The float metrics come from running float32
      // models, whose last bits may differ on another CPU (see docs/models.md), so they are held
      // to a tolerance; on the machine that built the committed files they match exactly too.
      const strip = (m: typeof committed) => ({ ...m, models: m.models.map(({ metrics: _metrics, ...rest }) => rest) });
      expect(strip(built)).to.deep.equal(strip(committed));
      built.models.forEach((m, i) => {
        const want = committed.models[i].metrics;
        expect(Object.keys(m.metrics)).to.deep.equal(Object.keys(want));
        for (const [k, v] of Object.entries(m.metrics)) expect(v as number, `${m.name}.${k}`).to.be.closeTo(want[k] as number, 1e-5);
      });
    }
  });

  it("writes ONNX IR 8, opset 17, with graph inputs and outputs as the manifest says", () => {
    const elem: Record<string, number> = { float32: 1, int64: 7, int32: 6, float64: 11 };
    for (const entry of committed.models) {
      const m = onnx.ModelProto.decode(fs.readFileSync(path.join(DEFAULT_MODELS_DIR, entry.file)));
      const graph = m.graph as onnx.GraphProto;
      expect(Number(m.irVersion)).to.equal(8);
      expect(m.opsetImport.map((o) => [o.domain, Number(o.version)])).to.deep.equal([["", 17]]);
      for (const [spec, vi] of [[entry.input, graph.input[0]], [entry.output, graph.output[0]]] as const) {
        expect(vi.name).to.equal(spec.name);
        expect(vi.type!.tensorType!.elemType).to.equal(elem[spec.type]);
        // The first dimension is the symbolic batch dimension; the manifest's shape is one request's [1, n].
        const dims = vi.type!.tensorType!.shape!.dim!;
        expect(dims[0].dimParam).to.equal("batch");
        expect(spec.shape[0]).to.equal(1);
        expect(dims.slice(1).map((d) => Number(d.dimValue))).to.deep.equal(spec.shape.slice(1));
      }
    }
  });

  it("holds at least one integer-only model, one float classifier and one DeFi risk model, each with held-out metrics", () => {
    const names = committed.models.map((m) => m.name);
    expect(names).to.include.members(["iris-classifier", "volatility-risk", "penguins-species-int"]);
    const int = committed.models.find((m) => m.name === "penguins-species-int")!;
    const ops = onnx.ModelProto.decode(fs.readFileSync(path.join(DEFAULT_MODELS_DIR, int.file))).graph as onnx.GraphProto;
    expect([...ops.input, ...ops.output].every((v) => v.type!.tensorType!.elemType === onnx.TensorProto.DataType.INT64)).to.equal(true);
    expect(ops.initializer.every((t) => t.dataType === onnx.TensorProto.DataType.INT64)).to.equal(true);
    for (const m of committed.models) {
      const held = Object.keys(m.metrics).filter((k) => k.startsWith("heldOut"));
      expect(held, m.name).to.not.be.empty;
      expect(m.dataset.testRows).to.be.greaterThan(0);
    }
    expect(committed.models.find((m) => m.name === "iris-classifier")!.metrics.heldOutAccuracy).to.be.at.least(0.9);
    expect(committed.models.find((m) => m.name === "penguins-species-int")!.metrics.heldOutAccuracy).to.be.at.least(0.9);
    const v = committed.models.find((m) => m.name === "volatility-risk")!.metrics;
    expect(v.heldOutRmse as number).to.be.lessThan(v.heldOutRmseNaive21d as number);
  });

  it("trains without randomness or clocks", () => {
    const dir = path.join(__dirname, "..", "..", "..", "oracle", "src", "models", "build");
    for (const f of fs.readdirSync(dir)) {
      const text = fs.readFileSync(path.join(dir, f), "utf8");
      expect(text, f).to.not.match(/Math\.random|Date\.now|new Date\(|performance\.now/);
    }
  });

  describe("manifest validation", () => {
    const raw = () => JSON.parse(fs.readFileSync(path.join(DEFAULT_MODELS_DIR, MANIFEST_FILE), "utf8"));

    it("refuses an integer model with non-zero decimals", () => {
      const m = raw();
      m.models.find((e: { name: string }) => e.name === "penguins-species-int").decimals = 6;
      expect(() => parseManifest(m)).to.throw(/models\.2\.decimals: an integer input \(int64\) is taken as it is/);
    });

    it("refuses a length that is not the product of the shape, bad hashes and duplicate names", () => {
      const m = raw();
      m.models[0].input.length = 5;
      m.models[1].sha256 = "0x1234";
      m.models[2].name = m.models[0].name;
      expect(() => parseManifest(m, "test manifest"))
        .to.throw(/test manifest is not a valid model manifest/)
        .and.to.match(/models\.0\.input\.length/)
        .and.to.match(/models\.1\.sha256/)
        .and.to.match(/duplicate name/);
    });

    it("names the file when the manifest cannot be read", () => {
      expect(() => loadManifest("/nonexistent-models-dir")).to.throw(/cannot read model manifest \/nonexistent-models-dir\/manifest.json/);
    });
  });
});
