/**
 * `oracle model check`: whether the runner will serve a model, and if not, what to change.
 *
 * Rules (each a `CheckProblem` with the fix):
 *   format        an ONNX file, IR version 3..10
 *   opset         default domain only (no custom domains: the runner loads no custom operators),
 *                 opset 13..21
 *   ops           every operator on the allow-list: no control flow (Loop, If, Scan: unbounded
 *                 time), no randomness, no operators that size tensors from data
 *   shapes        one input; every input and output dimension fixed but the first (the batch)
 *   limits        file size, node count, parameter count
 *   spec          a valid oracle.spec in metadata_props that matches the graph (names, types, shapes)
 *   determinism   "bit-exact" only for an integer-only graph (integer initializers and values, no
 *                 cast to float, no float-only operators); float models are deterministic within
 *                 one runtime build. Self-test: the same inputs under several session options
 *                 (optimization levels, thread counts, execution modes) give the same output bytes.
 */
import * as ort from "onnxruntime-node";
import { fromHex } from "../protocol/bytes";
import { ResultStatus } from "../protocol/constants";
import { encodeInput as encodeInputValues } from "../protocol/input";
import { decodeInput, encodeOutput } from "./codec";
import { summarize, type ModelSummary } from "./inspect";
import { type ModelSpec, readModelSpec, specInputEncoding } from "./spec";
import { DEFAULT_SESSION_OPTIONS, matchSpec } from "./store";

/** Operators the runner accepts (default ONNX domain). */
export const ALLOWED_OPS = new Set([
  "Abs", "Add", "And", "ArgMax", "ArgMin", "AveragePool", "BatchNormalization", "Cast", "Ceil", "Clip", "Concat", "Constant",
  "Conv", "ConvInteger", "DequantizeLinear", "Div", "Dropout", "Elu", "Equal", "Erf", "Exp", "Flatten", "Floor", "Gather", "Gemm",
  "GlobalAveragePool", "GlobalMaxPool", "Greater", "GreaterOrEqual", "HardSigmoid", "Identity", "LeakyRelu", "Less", "LessOrEqual",
  "Log", "LogSoftmax", "MatMul", "MatMulInteger", "Max", "MaxPool", "Mean", "Min", "Mod", "Mul", "Neg", "Not", "Or", "Pad", "Pow",
  "QLinearConv", "QLinearMatMul", "QuantizeLinear", "Reciprocal", "ReduceL2", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceSum",
  "Relu", "Reshape", "Round", "Selu", "Shape", "Sigmoid", "Sign", "Slice", "Softmax", "Softplus", "Split", "Sqrt", "Squeeze", "Sub",
  "Sum", "Tanh", "Transpose", "Unsqueeze", "Where", "Xor",
]);
/** Why some well-known operators are refused: the fix names what to use instead. */
const REFUSED_WHY: Record<string, string> = {
  Loop: "control flow can run without bound: unroll the loop", If: "control flow: compute both branches and select with Where",
  Scan: "control flow can run without bound: unroll it", ConstantOfShape: "sizes a tensor from data: use a constant initializer",
  Expand: "sizes a tensor from data: use a fixed-shape initializer or broadcasting", Tile: "sizes a tensor from data: use fixed shapes",
  Range: "sizes a tensor from data", Resize: "use fixed-shape ops", RandomNormal: "random: results would not be reproducible",
  RandomUniform: "random: results would not be reproducible", RandomNormalLike: "random", RandomUniformLike: "random", Multinomial: "random",
};
/** Operators that compute in floating point whatever their inputs. */
const FLOAT_OPS = new Set(["Softmax", "LogSoftmax", "Sigmoid", "Tanh", "Exp", "Log", "Erf", "Sqrt", "Pow", "Reciprocal", "Softplus", "Elu", "Selu", "HardSigmoid", "DequantizeLinear", "Mean", "ReduceMean", "ReduceL2", "GlobalAveragePool", "AveragePool", "BatchNormalization"]);
const INTEGER_TYPES = new Set(["int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "bool"]);

export interface CheckLimits {
  maxBytes: number;
  maxNodes: number;
  maxParameters: number;
  minOpset: number;
  maxOpset: number;
}

export const DEFAULT_CHECK_LIMITS: CheckLimits = { maxBytes: 64 * 1024 * 1024, maxNodes: 5_000, maxParameters: 16_000_000, minOpset: 13, maxOpset: 21 };

export interface CheckProblem {
  rule: "format" | "opset" | "ops" | "shapes" | "limits" | "spec" | "determinism";
  message: string;
  /** What to change. */
  fix: string;
}

export interface CheckReport {
  ok: boolean;
  problems: CheckProblem[];
  summary?: ModelSummary;
  spec?: ModelSpec;
  /** Whether the graph is integer-only (what "bit-exact" requires). */
  integerOnly?: boolean;
  /** Session settings the self-test ran under, and the output hash each gave per input. */
  selfTest?: { settings: string[]; inputs: number; agreed: boolean };
}

/** The determinism class a graph supports: "bit-exact" for integer-only graphs. */
export function integerOnly(s: ModelSummary): boolean {
  const values = [...s.inputs, ...s.outputs].every((v) => INTEGER_TYPES.has(v.type));
  const inits = s.initializerTypes.every((t) => INTEGER_TYPES.has(t));
  const casts = s.castTo.every((t) => INTEGER_TYPES.has(t));
  const ops = Object.keys(s.ops).every((op) => !FLOAT_OPS.has(op));
  return values && inits && casts && ops;
}

/** Static checks of a summary (no runtime). */
export function staticProblems(s: ModelSummary, limits: CheckLimits = DEFAULT_CHECK_LIMITS): CheckProblem[] {
  const problems: CheckProblem[] = [];
  const add = (rule: CheckProblem["rule"], message: string, fix: string) => problems.push({ rule, message, fix });
  if (s.irVersion < 3 || s.irVersion > 10) add("format", `ONNX IR version ${s.irVersion}`, "export with IR version 3..10 (e.g. IR 8)");
  for (const o of s.opsets) {
    if (o.domain !== "ai.onnx") add("opset", `custom operator domain "${o.domain}"`, "the runner loads no custom operators: re-export with standard ONNX operators only");
    else if (o.version < limits.minOpset || o.version > limits.maxOpset) add("opset", `opset ${o.version}`, `export with an opset between ${limits.minOpset} and ${limits.maxOpset} (e.g. 17)`);
  }
  for (const op of Object.keys(s.ops)) {
    if (op.includes("::")) add("ops", `custom operator ${op}`, "replace it with standard ONNX operators");
    else if (!ALLOWED_OPS.has(op)) add("ops", `operator ${op} is not on the allow-list`, REFUSED_WHY[op] ? `${op}: ${REFUSED_WHY[op]}` : `replace ${op} with operators from the allow-list (docs/models.md)`);
  }
  if (s.inputs.length !== 1) add("shapes", `the graph has ${s.inputs.length} inputs`, "give the graph exactly one input tensor (concatenate features into one)");
  for (const v of [...s.inputs, ...s.outputs]) {
    const bad = v.shape.slice(1).filter((d) => typeof d !== "number");
    if (v.shape.length === 0 || bad.length) add("shapes", `${v.name} has shape [${v.shape.join(", ")}]`, "fix every dimension but the first (the batch) to a number");
  }
  if (s.bytes > limits.maxBytes) add("limits", `the file is ${s.bytes} bytes`, `keep the model under ${limits.maxBytes} bytes (quantize or prune it)`);
  if (s.nodes > limits.maxNodes) add("limits", `the graph has ${s.nodes} nodes`, `keep the graph under ${limits.maxNodes} nodes`);
  if (s.parameters > limits.maxParameters) add("limits", `the model has ${s.parameters} parameters`, `keep it under ${limits.maxParameters} parameters`);
  return problems;
}

/** Session settings of the determinism self-test. */
export const SELF_TEST_SETTINGS: [string, ort.InferenceSession.SessionOptions][] = [
  ["runner default (all optimizations, 1 thread, sequential)", DEFAULT_SESSION_OPTIONS],
  ["no graph optimizations", { ...DEFAULT_SESSION_OPTIONS, graphOptimizationLevel: "disabled" }],
  ["basic optimizations, 2 intra-op threads", { ...DEFAULT_SESSION_OPTIONS, graphOptimizationLevel: "basic", intraOpNumThreads: 2 }],
  ["parallel execution, 2 inter-op threads", { ...DEFAULT_SESSION_OPTIONS, executionMode: "parallel", interOpNumThreads: 2 }],
];

/** Deterministic in-bound inputs for the self-test: the bounds' midpoint, then a fixed pseudo-random walk. */
function selfTestInputs(spec: ModelSpec, count: number): Uint8Array[] {
  const enc = specInputEncoding(spec);
  const integer = spec.input.type.startsWith("int");
  const scale = 10 ** spec.decimals;
  let seed = 0x2545f491;
  const next = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const bound = (b: number | number[] | undefined, i: number, d: number) => (Array.isArray(b) ? b[i] : b ?? d);
  return Array.from({ length: count }, (_, k) =>
    fromHex(encodeInputValues(Array.from({ length: spec.input.length }, (_, i) => {
      const lo = bound(spec.input.min, i, -1);
      const hi = bound(spec.input.max, i, 1);
      const x = k === 0 ? (lo + hi) / 2 : lo + (hi - lo) * next();
      return BigInt(Math.round(integer ? x : x * scale));
    }), enc)));
}

/** Runs every check; `selfTestRuns` inputs through each session setting. */
export async function checkModel(bytes: Uint8Array, options: { limits?: CheckLimits; selfTestRuns?: number } = {}): Promise<CheckReport> {
  let summary: ModelSummary;
  try {
    summary = summarize(bytes);
  } catch (err) {
    return { ok: false, problems: [{ rule: "format", message: (err as Error).message, fix: "give an .onnx file (ModelProto), e.g. from torch.onnx.export or skl2onnx" }] };
  }
  const problems = staticProblems(summary, options.limits);
  const report: CheckReport = { ok: false, problems, summary, integerOnly: integerOnly(summary) };
  try {
    report.spec = readModelSpec(bytes);
  } catch (err) {
    problems.push({ rule: "spec", message: (err as Error).message, fix: "write the spec with `oracle model pack --spec spec.json` (docs/models.md)" });
  }
  if (report.spec?.determinism === "bit-exact" && !report.integerOnly) {
    problems.push({ rule: "determinism", message: "the spec says bit-exact but the graph computes in floating point", fix: 'declare "determinism": "float", or quantize the model to integer weights and values' });
  }
  if (problems.length || !report.spec) return report;
  const spec = report.spec;
  const inputs = selfTestInputs(spec, options.selfTestRuns ?? 8);
  const outputsBySetting: string[] = [];
  for (const [, sessionOptions] of SELF_TEST_SETTINGS) {
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(bytes, sessionOptions);
    } catch (err) {
      problems.push({ rule: "format", message: `onnxruntime refused the model: ${String((err as Error).message).split("\n")[0]}`, fix: "export the model again with standard operators and a supported opset" });
      return report;
    }
    try {
      if (outputsBySetting.length === 0) matchSpec(session, spec);
      const outs: string[] = [];
      for (const input of inputs) {
        const decoded = decodeInput(input, spec);
        if (decoded.status !== ResultStatus.Ok) { outs.push(`status ${decoded.status}`); continue; }
        const r = await session.run({ [spec.input.name]: new ort.Tensor(spec.input.type, decoded.data, spec.input.shape) }, [spec.output.name]);
        const e = encodeOutput(r[spec.output.name].data as Float32Array, spec);
        outs.push(`${e.status}:${e.output}`);
      }
      outputsBySetting.push(outs.join("|"));
    } catch (err) {
      problems.push({ rule: "spec", message: (err as Error).message.split("\n")[0], fix: "make the spec's input/output names, types and shapes those of the graph" });
      return report;
    } finally {
      await session.release().catch(() => undefined);
    }
  }
  const agreed = outputsBySetting.every((o) => o === outputsBySetting[0]);
  report.selfTest = { settings: SELF_TEST_SETTINGS.map(([l]) => l), inputs: inputs.length, agreed };
  if (!agreed) problems.push({ rule: "determinism", message: "the output bytes differ between session settings", fix: "the model's rounded output depends on operator scheduling: lower the spec's decimals, or quantize it" });
  report.ok = problems.length === 0;
  return report;
}

/** The report in words. */
export function formatCheck(r: CheckReport): string {
  const lines: string[] = [];
  if (r.summary) lines.push(`model ${r.summary.sha256} (${r.summary.bytes} bytes, ${r.summary.nodes} nodes)`);
  if (r.spec) lines.push(`spec: ${r.spec.name}, ${r.spec.input.length} ${r.spec.input.encoding} values in, ${r.spec.output.length} out, ${r.spec.decimals} decimals, ${r.spec.determinism}`);
  if (r.integerOnly !== undefined) lines.push(`determinism class the graph supports: ${r.integerOnly ? "bit-exact (integer-only)" : "float (deterministic within one runtime build)"}`);
  if (r.selfTest) lines.push(`self-test: ${r.selfTest.inputs} inputs under ${r.selfTest.settings.length} session settings: ${r.selfTest.agreed ? "same output bytes" : "OUTPUTS DIFFER"}`);
  for (const p of r.problems) lines.push(`REFUSED [${p.rule}] ${p.message}\n  fix: ${p.fix}`);
  lines.push(r.ok ? "OK: the runner will serve this model" : `NOT SERVABLE: ${r.problems.length} problem(s)`);
  return lines.join("\n") + "\n";
}


