/**
 * Reads the `metadata_props` of an ONNX ModelProto without decoding the rest of the file: a walk
 * over the top-level protobuf fields that skips each one by its wire type and reads field 14
 * (`repeated StringStringEntryProto metadata_props`, key = 1, value = 2). The runner reads a
 * model's spec this way before it hands the same bytes to onnxruntime, so an untrusted file's
 * graph is never decoded into JS objects. test/oracle/models/spec.test.ts holds it equal to the
 * full onnx-proto decode.
 */

/** ModelProto field numbers this reader knows. */
const METADATA_PROPS = 14;
const ENTRY_KEY = 1;
const ENTRY_VALUE = 2;

/** The bytes are not a protobuf message (truncated, a bad wire type, a field too long). */
export class ProtobufFormatError extends Error {
  override name = "ProtobufFormatError";
}

interface Cursor {
  bytes: Uint8Array;
  at: number;
  end: number;
}

function varint(c: Cursor): number {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (c.at >= c.end) throw new ProtobufFormatError("truncated varint");
    const b = c.bytes[c.at++];
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) {
      if (!Number.isSafeInteger(value)) throw new ProtobufFormatError("varint beyond 2^53");
      return value;
    }
    scale *= 128;
  }
  throw new ProtobufFormatError("varint longer than 10 bytes");
}

/** Skips (or returns, for wire type 2) the value of a field; the cursor stays inside `end`. */
function fieldValue(c: Cursor, wireType: number): Uint8Array | undefined {
  switch (wireType) {
    case 0:
      varint(c);
      return undefined;
    case 1:
      c.at += 8;
      break;
    case 5:
      c.at += 4;
      break;
    case 2: {
      const length = varint(c);
      if (length > c.end - c.at) throw new ProtobufFormatError(`a field of ${length} bytes runs past the end`);
      const value = c.bytes.subarray(c.at, c.at + length);
      c.at += length;
      return value;
    }
    default:
      throw new ProtobufFormatError(`wire type ${wireType} is not used by ONNX`);
  }
  if (c.at > c.end) throw new ProtobufFormatError("truncated fixed-width field");
  return undefined;
}

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

function utf8(v: Uint8Array): string {
  try {
    return utf8Decoder.decode(v);
  } catch {
    throw new ProtobufFormatError("a metadata string is not UTF-8");
  }
}

function entry(bytes: Uint8Array): [string, string] {
  const c: Cursor = { bytes, at: 0, end: bytes.length };
  let key = "";
  let value = "";
  while (c.at < c.end) {
    const tag = varint(c);
    const v = fieldValue(c, tag % 8);
    const field = Math.floor(tag / 8);
    if (v !== undefined && field === ENTRY_KEY) key = utf8(v);
    else if (v !== undefined && field === ENTRY_VALUE) value = utf8(v);
  }
  return [key, value];
}

/**
 * The model's `metadata_props`, in file order (a later duplicate key is kept as a separate
 * entry: callers that need one value refuse duplicates). Throws ProtobufFormatError when the
 * top level is not a well-formed protobuf message.
 */
export function readMetadataProps(bytes: Uint8Array): [string, string][] {
  const c: Cursor = { bytes, at: 0, end: bytes.length };
  const out: [string, string][] = [];
  while (c.at < c.end) {
    const tag = varint(c);
    if (tag < 8) throw new ProtobufFormatError("field number 0");
    const v = fieldValue(c, tag % 8);
    if (Math.floor(tag / 8) === METADATA_PROPS) {
      if (v === undefined) throw new ProtobufFormatError("metadata_props is not length-delimited");
      out.push(entry(v));
    }
  }
  return out;
}
