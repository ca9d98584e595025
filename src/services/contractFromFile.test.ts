import { DomainError } from "../core/errors";
import { inferContract, type GraphValue } from "../core/eval/inferContract";
import { assertContractComplete, contractFromFile, updateContract } from "./contractFromFile";

const dynamic: { inputs: GraphValue[]; outputs: GraphValue[] } = {
  inputs: [{ name: "image", elemType: "FLOAT", shape: ["N", 3, "H", "W"] }],
  outputs: [{ name: "logits", elemType: "FLOAT", shape: ["N", 19, "H", "W"] }],
};

function refusal(run: () => unknown): DomainError {
  try {
    run();
  } catch (e) {
    if (e instanceof DomainError) return e;
    throw e;
  }
  throw new Error("expected a refusal");
}

describe("a contract from the file with fields given explicitly", () => {
  it("fills every field from the file when none is given, marked inferred with its notes", () => {
    const c = contractFromFile(inferContract(dynamic, "SEMANTIC"), null);
    expect(c).toMatchObject({ inputName: "image", width: 2048, height: 512, resize: { mode: "KEEP_RATIO" }, outputs: [{ name: "logits", kind: "SEMANTIC_LOGITS" }], inferred: true, missing: [] });
    expect(c.notes!.map((n) => n.fields)).toEqual([["channelOrder", "mean", "std", "normalization"], ["width", "height", "resize"]]);
  });

  it("lets each given field win and drops the notes those fields settle", () => {
    const c = contractFromFile(inferContract(dynamic, "SEMANTIC"), { width: 1024, height: 1024, resize: { mode: "FIXED" as never }, mean: [0, 0, 0], std: [1, 1, 1] });
    expect(c).toMatchObject({ inputName: "image", width: 1024, height: 1024, resize: { mode: "FIXED" }, mean: [0, 0, 0], std: [1, 1, 1], channelOrder: "RGB", inferred: true });
    // The size note is settled; the colour note still concerns channelOrder and normalization.
    expect(c.notes!.map((n) => n.fields)).toEqual([["channelOrder", "mean", "std", "normalization"]]);
  });

  it("is a plain contract when everything is given", () => {
    const explicit = { inputName: "x", width: 64, height: 32, resize: { mode: "FIXED" as never }, channelOrder: "BGR" as never, mean: [1, 2, 3], std: [4, 5, 6], normalization: "MMCV" as never, outputs: [{ name: "o", kind: "SEMANTIC_IDS" }], postprocess: {} };
    const c = contractFromFile(inferContract(dynamic, "SEMANTIC"), explicit);
    expect(c.inferred).toBeUndefined();
    expect(c).toMatchObject({ inputName: "x", width: 64, height: 32, channelOrder: "BGR", normalization: "MMCV", outputs: [{ name: "o", kind: "SEMANTIC_IDS" }] });
  });

  it("keeps a part the file could not give as missing until it is given, and evaluation names it", () => {
    const twoOutputs = { ...dynamic, outputs: [...dynamic.outputs, { name: "aux", elemType: "FLOAT", shape: ["N", 19, "h", "w"] }] };
    const c = contractFromFile(inferContract(twoOutputs, "SEMANTIC"), null);
    expect(c.missing!.map((m) => m.field)).toEqual(["outputs"]);
    const error = refusal(() => assertContractComplete(c, "seg@1"));
    expect(error.code).toBe("BAD_USER_INPUT");
    expect(error.field).toBe("model.inference.outputs");
    expect(error.message).toMatch(/seg@1: .*outputs: the outputs \("logits" .*"aux".*\) are not/);

    // An update giving the outputs settles it and keeps what the file gave.
    const updated = updateContract(c, { outputs: [{ name: "logits", kind: "SEMANTIC_LOGITS" }] });
    expect(updated).toMatchObject({ inputName: "image", width: 2048, height: 512, resize: { mode: "KEEP_RATIO" }, inferred: true, missing: [] });
    expect(() => assertContractComplete(updated, "seg@1")).not.toThrow();
  });

  it("replaces a contract that was not read from a file as a whole, with the documented defaults", () => {
    const stored = contractFromFile(inferContract(dynamic, "SEMANTIC"), { inputName: "x", width: 64, height: 32, resize: { mode: "FIXED" as never }, channelOrder: "BGR" as never, mean: [1, 2, 3], std: [4, 5, 6], normalization: "MMCV" as never, outputs: [{ name: "o", kind: "SEMANTIC_IDS" }], postprocess: {} });
    const updated = updateContract(stored, { inputName: "y" });
    expect(updated).toMatchObject({ inputName: "y", width: 512, height: 512, channelOrder: "RGB", outputs: [{ name: "logits", kind: "SEMANTIC_LOGITS" }] });
    expect(updated.inferred).toBeUndefined();
  });
});
