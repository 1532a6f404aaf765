/**
 * `oracle model pack`: writes a spec into a model's `metadata_props` (key oracle.spec),
 * replacing any spec already there and keeping every other entry, and returns the new file's
 * bytes. The spec is validated first, and then against the graph (check.ts does the rest).
 */
import { onnx } from "onnx-proto";
import { decodeModel } from "./inspect";
import { type ModelSpec, SPEC_KEY, parseSpec, specJson } from "./spec";

export function packModel(bytes: Uint8Array, spec: unknown): { bytes: Uint8Array; spec: ModelSpec } {
  const parsed = parseSpec(spec, "the spec to pack");
  const model = decodeModel(bytes);
  model.metadataProps = [
    ...(model.metadataProps ?? []).filter((p) => p.key !== SPEC_KEY),
    onnx.StringStringEntryProto.create({ key: SPEC_KEY, value: specJson(parsed) }),
  ];
  return { bytes: onnx.ModelProto.encode(model).finish(), spec: parsed };
}
