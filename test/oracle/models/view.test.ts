import { expect } from "chai";
import { findByName, loadManifest } from "../../../oracle/src/models/manifest";
import { describeInput, modelView } from "../../../oracle/src/models/view";
import { InputEncoding } from "../../../oracle/src/protocol/constants";
import { encodeInput } from "../../../oracle/src/protocol/input";

describe("model views (the values the console and the audit page show)", () => {
  const manifest = loadManifest();

  it("names a packed-int8 model's input values: the view takes the encoding from the model's spec", () => {
    const view = modelView(findByName(manifest, "mnist-digits-int")!);
    expect(view.inputEncoding).to.equal(InputEncoding.PackedInt8);
    const pixels = Array.from({ length: 784 }, (_, i) => BigInt(i % 128));
    const shown = describeInput(encodeInput(pixels, InputEncoding.PackedInt8), view);
    expect(shown?.values.slice(0, 3).map((v) => v.value)).to.deep.equal(["0", "1", "2"]);
  });

  it("reads an abi-int256 model's input with its feature names", () => {
    const entry = findByName(manifest, "penguins-species-int")!;
    const view = modelView(entry);
    expect(view.inputEncoding).to.equal(InputEncoding.AbiInt256);
    const shown = describeInput(encodeInput([400n, 180n, 190n, 3800n], InputEncoding.AbiInt256), view);
    expect(shown?.values.map((v) => v.name)).to.deep.equal(entry.input.features);
  });
});
