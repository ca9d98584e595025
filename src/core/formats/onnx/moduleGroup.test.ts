import { isGeneratedName, moduleGroup } from "./moduleGroup";

describe("moduleGroup", () => {
  it("takes the first component of the module path", () => {
    expect(moduleGroup("backbone.layer1.0.conv1.weight")).toBe("backbone");
    expect(moduleGroup("decode_head.conv_seg.bias")).toBe("decode_head");
    expect(moduleGroup("conv1.weight")).toBe("conv1");
    expect(moduleGroup("fc_bias")).toBe("fc_bias");
    expect(moduleGroup("model/conv2d/kernel")).toBe("model");
  });

  it("puts exporter-generated names without a module path in (generated)", () => {
    expect(moduleGroup("onnx::Conv_1897")).toBe("(generated)");
    expect(moduleGroup("1234")).toBe("(generated)");
    expect(moduleGroup("/decode_head/Constant_3_output_0")).toBe("decode_head");
    expect(isGeneratedName("/decode_head/Constant_3_output_0")).toBe(true);
    expect(isGeneratedName("backbone.layer1.0.conv1.weight")).toBe(false);
  });
});
