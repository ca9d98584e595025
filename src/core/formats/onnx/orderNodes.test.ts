import type { OnnxNodeRecord } from "./onnxModelRecord";
import { orderNodes } from "./orderNodes";

const node = (name: string, inputs: string[], outputs: string[]): OnnxNodeRecord => ({ name, opType: "Op", domain: "", inputs, outputs });

describe("orderNodes", () => {
  it("keeps a sorted list as it is", () => {
    const nodes = [node("a", ["x"], ["a"]), node("b", ["a"], ["b"]), node("c", ["a", "b"], ["c"])];
    expect(orderNodes(nodes)).toEqual([0, 1, 2]);
  });

  it("emits appended producers just before their first consumer (fp16 converters' Casts)", () => {
    // list: conv(uses cast_in), relu(conv), cast_out(relu), cast_in(x) — cast_in was appended last
    const nodes = [node("conv", ["x16", "w"], ["c"]), node("relu", ["c"], ["r"]), node("cast_out", ["r"], ["y"]), node("cast_in", ["x"], ["x16"])];
    // walk: conv needs cast_in (3) first → 3, 0; then relu 1; cast_out 2
    expect(orderNodes(nodes)).toEqual([3, 0, 1, 2]);
  });

  it("walks producers depth-first, inputs in order", () => {
    // d(b, c); b(a); c(); a() — all listed after d
    const nodes = [node("d", ["b", "c"], ["d"]), node("c", [], ["c"]), node("b", ["a"], ["b"]), node("a", [], ["a"])];
    // d → b → a emitted first (3), then b (2), then c (1), then d (0)
    expect(orderNodes(nodes)).toEqual([3, 2, 1, 0]);
  });

  it("terminates on cycles and deep chains", () => {
    expect(orderNodes([node("a", ["b"], ["a"]), node("b", ["a"], ["b"])]).sort()).toEqual([0, 1]);
    const n = 200_000;
    // a chain listed in reverse: node i consumes v(i+1) produced by node i+1
    const chain = Array.from({ length: n }, (_, i) => node(`n${i}`, [`v${i + 1}`], [`v${i}`]));
    const order = orderNodes(chain);
    expect(order[0]).toBe(n - 1);
    expect(order[n - 1]).toBe(0);
  });
});
