import { positionalKeys, type DataflowGraph, type DataflowNode, type KeyedTensor } from "./positionalKeys";

/**
 * Hand-built graphs: a small builder that names every value through a `name` function, so the same
 * network can be written twice under two numberings, and keys compared across the two.
 */
class GraphBuilder {
  readonly nodes: DataflowNode[] = [];
  readonly constants = new Map<string, { dtype: string; shape: number[] }>();
  readonly tensors: KeyedTensor[] = [];
  private next = 0;
  constructor(private readonly name: (n: number) => string = (n) => `v${n}`, private readonly input = { dtype: "FLOAT", shape: "[1,3,32,32]" }) {}

  value(): string {
    return this.name(this.next++);
  }

  /** A Conv with weight [out, in, k, k] and bias [out]; returns its output value. */
  conv(x: string, cin: number, cout: number, k: number, attrs = ""): string {
    const w = this.value();
    const b = this.value();
    const y = this.value();
    const owner = this.nodes.length;
    this.constants.set(w, { dtype: "F32", shape: [cout, cin, k, k] });
    this.constants.set(b, { dtype: "F32", shape: [cout] });
    this.nodes.push({ op: "Conv", attributes: `kernel_shape=${k},${k};${attrs}`, inputs: [x, w, b], outputs: [y] });
    this.tensors.push({ name: w, owner, slot: 1, dtype: "F32", shape: [cout, cin, k, k] }, { name: b, owner, slot: 2, dtype: "F32", shape: [cout] });
    return y;
  }

  op(op: string, inputs: string[], attributes = ""): string {
    const y = this.value();
    this.nodes.push({ op, attributes, inputs, outputs: [y] });
    return y;
  }

  graph(): DataflowGraph {
    return { nodes: this.nodes, order: this.nodes.map((_, i) => i), inputs: [{ name: "image", signature: `${this.input.dtype}${this.input.shape}` }], constants: this.constants };
  }

  keys(): string[] {
    const keys = positionalKeys(this.graph(), this.tensors);
    return this.tensors.map((t) => keys.get(t.name)!);
  }
}

/** Three Conv-ReLU stages; returns the stage outputs. */
function backbone(g: GraphBuilder, attrs = ""): string[] {
  const s1 = g.op("Relu", [g.conv("image", 3, 8, 3, attrs)]);
  const s2 = g.op("Relu", [g.conv(s1, 8, 16, 3, "strides=2,2")]);
  const s3 = g.op("Relu", [g.conv(s2, 16, 16, 3, "strides=2,2")]);
  return [s1, s2, s3];
}

const BACKBONE_TENSORS = 6;

describe("positionalKeys", () => {
  it("gives a backbone's tensors the same keys under two heads, one reading two stages, and the heads' tensors others", () => {
    const a = new GraphBuilder();
    const [, , a3] = backbone(a);
    a.conv(a.op("Relu", [a.conv(a3, 16, 8, 1)]), 8, 4, 1);

    const b = new GraphBuilder((n) => `onnx::Conv_${100 + 3 * n}`);
    const [, b2, b3] = backbone(b);
    const up = b.op("Resize", [b.op("Relu", [b.conv(b3, 16, 8, 3)])], "mode=linear");
    b.conv(b.op("Concat", [b2, up], "axis=1"), 24, 4, 1);

    const ka = a.keys();
    const kb = b.keys();
    expect(kb.slice(0, BACKBONE_TENSORS)).toEqual(ka.slice(0, BACKBONE_TENSORS));
    const shared = ka.filter((k) => kb.includes(k));
    expect(shared).toEqual(ka.slice(0, BACKBONE_TENSORS));
  });

  it("does not depend on value names: the same network numbered two ways has the same keys", () => {
    const build = (name: (n: number) => string) => {
      const g = new GraphBuilder(name);
      const [, , s3] = backbone(g);
      g.conv(s3, 16, 4, 1);
      return g.keys();
    };
    const first = build((n) => `onnx::Conv_${n}`);
    const second = build((n) => `onnx::Conv_${1000 - 7 * n}`);
    expect(second).toEqual(first);
    expect(new Set(first).size).toBe(first.length);
  });

  it("changes every key downstream of a changed attribute, input type or weight shape, and none upstream", () => {
    const reference = new GraphBuilder();
    backbone(reference);
    const ref = reference.keys();

    const stride = new GraphBuilder();
    const s1 = stride.op("Relu", [stride.conv("image", 3, 8, 3)]);
    const s2 = stride.op("Relu", [stride.conv(s1, 8, 16, 3, "strides=1,1")]);
    stride.op("Relu", [stride.conv(s2, 16, 16, 3, "strides=2,2")]);
    const ks = stride.keys();
    expect(ks.slice(0, 2)).toEqual(ref.slice(0, 2));
    for (let i = 2; i < BACKBONE_TENSORS; i++) expect(ks[i]).not.toBe(ref[i]);

    const wider = new GraphBuilder();
    const w1 = wider.op("Relu", [wider.conv("image", 3, 12, 3)]);
    wider.conv(w1, 12, 16, 3, "strides=2,2");
    const kw = wider.keys();
    expect(kw.filter((k) => ref.includes(k))).toEqual([]);

    const input = new GraphBuilder(undefined, { dtype: "FLOAT", shape: "[1,3,64,64]" });
    backbone(input);
    expect(input.keys().filter((k) => ref.includes(k))).toEqual([]);
  });

  it("tells identical sibling branches apart by their order, consistently across graphs, and keeps what they feed apart", () => {
    const build = (name: (n: number) => string) => {
      const g = new GraphBuilder(name);
      const [, , s3] = backbone(g);
      const left = g.op("Relu", [g.conv(s3, 16, 8, 1)]);
      const right = g.op("Relu", [g.conv(s3, 16, 8, 1)]);
      g.conv(left, 8, 2, 1);
      g.conv(right, 8, 2, 1);
      return g.keys();
    };
    const one = build((n) => `x${n}`);
    const two = build((n) => `y${n * 5}`);
    expect(new Set(one).size).toBe(one.length);
    expect(two).toEqual(one);
  });

  it("separates slots: a weight and a bias of the same shape get different keys", () => {
    const g = new GraphBuilder();
    const x = g.value();
    const y = g.value();
    g.constants.set(x, { dtype: "F32", shape: [4] });
    g.constants.set(y, { dtype: "F32", shape: [4] });
    g.nodes.push({ op: "LayerNormalization", attributes: "", inputs: ["image", x, y], outputs: ["out"] });
    g.tensors.push({ name: x, owner: 0, slot: 1, dtype: "F32", shape: [4] }, { name: y, owner: 0, slot: 2, dtype: "F32", shape: [4] });
    const [kx, ky] = g.keys();
    expect(kx).not.toBe(ky);
  });
});
