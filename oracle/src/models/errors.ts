/**
 * Errors of the models module. One base class with a short message, optional details and a
 * cause; a named subclass per failure so callers can tell them apart (e.g. a runner refuses a
 * job on InputEncodingError but never retries a ModelHashMismatchError).
 */
export class ModelError extends Error {
  override name = "ModelError";
  readonly details?: string;

  constructor(shortMessage: string, options: { details?: string; cause?: unknown } = {}) {
    super(options.details ? `${shortMessage}\n${options.details}` : shortMessage, { cause: options.cause });
    this.details = options.details;
  }
}

/** The input bytes are not a canonical `abi.encode(int256[])` of the model's input length. */
export class InputEncodingError extends ModelError {
  override name = "InputEncodingError";
}

/** The tensor handed to the encoder does not fit the model's output spec. */
export class OutputShapeError extends ModelError {
  override name = "OutputShapeError";
}

/** No model file with this hash in the folder. */
export class UnknownModelError extends ModelError {
  override name = "UnknownModelError";
  constructor(readonly modelHash: string, dir: string) {
    super(`no model file with sha256 ${modelHash} in ${dir}`);
  }
}

/** The model file's bytes do not hash to the hash asked for: the file is refused. */
export class ModelHashMismatchError extends ModelError {
  override name = "ModelHashMismatchError";
  constructor(readonly file: string, readonly expected: string, readonly actual: string) {
    super(`model file ${file} refused: sha256 is ${actual}, expected ${expected}`);
  }
}

/** The store was used after close(). */
export class ModelStoreClosedError extends ModelError {
  override name = "ModelStoreClosedError";
  constructor() {
    super("the model store is closed");
  }
}

/** The model file carries no valid spec, or its spec does not match its graph. Says what to change. */
export class ModelSpecError extends ModelError {
  override name = "ModelSpecError";
}

/** onnxruntime refused to create a session from the file (not ONNX, an unknown operator, a bad graph). */
export class ModelLoadError extends ModelError {
  override name = "ModelLoadError";
}

/** The model file is larger than the store accepts. */
export class ModelTooLargeError extends ModelError {
  override name = "ModelTooLargeError";
  constructor(readonly size: number, readonly limit: number) {
    super(`the model file is ${size} bytes, more than the limit of ${limit} bytes`);
  }
}
