import { inferContract, type GraphValue } from "./inferContract";

const image = (shape: Array<number | string | null>, name = "pixel_values"): GraphValue => ({ name, elemType: "FLOAT", shape });
const out = (name: string, elemType: string, shape: Array<number | string | null>): GraphValue => ({ name, elemType, shape });

describe("a contract inferred from the graph's inputs and outputs", () => {
  it("reads a static input size as FIXED and one float [N, C, H, W] output as SEMANTIC_LOGITS", () => {
    const c = inferContract({ inputs: [image([1, 3, 480, 640])], outputs: [out("seg", "FLOAT", [1, 19, 120, 160])] }, "SEMANTIC");
    expect(c.fields).toEqual({
      inputName: "pixel_values",
      width: 640,
      height: 480,
      resize: { mode: "FIXED" },
      channelOrder: "RGB",
      mean: [123.675, 116.28, 103.53],
      std: [58.395, 57.12, 57.375],
      normalization: "DIVIDE",
      outputs: [{ name: "seg", kind: "SEMANTIC_LOGITS" }],
    });
    expect(c.missing).toEqual([]);
    // Only the normalisation is a guess for such a file.
    expect(c.notes.map((n) => n.fields)).toEqual([["channelOrder", "mean", "std", "normalization"]]);
  });

  it("takes KEEP_RATIO at 2048×512 when height or width is dynamic, and says so", () => {
    for (const shape of [["N", 3, "H", "W"], [1, 3, null, 1024], [1, 3, 512, "width"]]) {
      const c = inferContract({ inputs: [image(shape)], outputs: [out("logits", "FLOAT", ["N", 19, "h", "w"])] }, "SEMANTIC");
      expect(c.fields).toMatchObject({ width: 2048, height: 512, resize: { mode: "KEEP_RATIO" } });
      expect(c.notes.find((n) => n.fields.includes("resize"))?.text).toMatch(/2048×512/);
    }
  });

  it("reads an integer [N, H, W] output as SEMANTIC_IDS, or PANOPTIC_IDS for a panoptic task", () => {
    const graph = { inputs: [image([1, 3, 64, 64])], outputs: [out("pred", "INT64", [1, 64, 64])] };
    expect(inferContract(graph, "SEMANTIC").fields.outputs).toEqual([{ name: "pred", kind: "SEMANTIC_IDS" }]);
    expect(inferContract(graph, "PANOPTIC").fields.outputs).toEqual([{ name: "pred", kind: "PANOPTIC_IDS" }]);
    const oneChannel = { inputs: [image([1, 3, 64, 64])], outputs: [out("pred", "INT32", [1, 1, 64, 64])] };
    expect(inferContract(oneChannel, "SEMANTIC").fields.outputs).toEqual([{ name: "pred", kind: "SEMANTIC_IDS" }]);
  });

  it("reads semantic + 1-channel center + 2-channel offset outputs as Panoptic-DeepLab, never guessing the offset order silently", () => {
    const c = inferContract(
      { inputs: [image([1, 3, 64, 128])], outputs: [out("offset", "FLOAT", [1, 2, 64, 128]), out("sem", "FLOAT", [1, 8, 64, 128]), out("center", "FLOAT", [1, 1, 64, 128])] },
      "PANOPTIC",
    );
    expect(c.fields.outputs).toEqual([
      { name: "sem", kind: "PANOPTIC_SEMANTIC" },
      { name: "center", kind: "PANOPTIC_CENTER" },
      { name: "offset", kind: "PANOPTIC_OFFSET" },
    ]);
    const note = c.notes.find((n) => n.fields.includes("postprocess"));
    expect(note?.text).toMatch(/offsetOrder/);
    expect(note?.text).toMatch(/"offset"/);
  });

  it("says which part is missing when the file does not tell", () => {
    const twoInputs = inferContract({ inputs: [image([1, 3, 8, 8], "a"), image([1, 3, 8, 8], "b")], outputs: [out("y", "FLOAT", [1, 4, 8, 8])] }, "SEMANTIC");
    expect(twoInputs.missing.map((m) => m.field)).toEqual(["inputName"]);
    expect(twoInputs.missing[0].reason).toMatch(/2 inputs .*"a".*"b"/);
    expect(twoInputs.fields.outputs).toEqual([{ name: "y", kind: "SEMANTIC_LOGITS" }]);

    const nhwc = inferContract({ inputs: [image([1, 8, 8, 3])], outputs: [out("y", "FLOAT", [1, 4, 8, 8])] }, "SEMANTIC");
    expect(nhwc.missing[0]).toMatchObject({ field: "inputName" });
    expect(nhwc.missing[0].reason).toMatch(/NHWC/);
    expect(nhwc.fields.width).toBeUndefined();

    const uint8 = inferContract({ inputs: [{ name: "img", elemType: "UINT8", shape: [1, 3, 8, 8] }], outputs: [out("y", "FLOAT", [1, 4, 8, 8])] }, "SEMANTIC");
    expect(uint8.missing[0].reason).toMatch(/not float32/);

    const twoFloats = inferContract({ inputs: [image([1, 3, 8, 8])], outputs: [out("y", "FLOAT", [1, 4, 8, 8]), out("aux", "FLOAT", [1, 4, 8, 8])] }, "SEMANTIC");
    expect(twoFloats.missing.map((m) => m.field)).toEqual(["outputs"]);
    expect(twoFloats.missing[0].reason).toMatch(/"y" FLOAT \[1, 4, 8, 8\], "aux"/);
    expect(twoFloats.fields.outputs).toBeUndefined();
  });
});
