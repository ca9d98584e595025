import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { writeSafetensors } from "../core/formats/safetensors/testing/writeSafetensors";
import { bfloat16BitsToFloat, float32ToBfloat16Bits, float32ToHalfBits, halfBitsToFloat } from "../core/formats/onnx/testing/float16";
import { buildSegNet } from "../core/formats/onnx/testing/buildSegNet";
import { pairSimilarity } from "./pairSimilarity";

/**
 * pairSimilarity on files whose tensors are longer than its read chunk (2^18 elements), in F32,
 * F16 and BF16, against a plain float64 loop over the values the test wrote. Group "b" holds a
 * tensor with a different name on each side (how a positional match would pair them).
 */
describe("pairSimilarity on files", () => {
  let dir: string;
  beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "pair-similarity-"))));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const sizes = { "a.big": 600_001, "a.small": 5, "b.one": 262_144 };

  function values(seed: number, n: number): number[] {
    const out: number[] = [];
    let x = seed >>> 0;
    for (let i = 0; i < n; i++) {
      x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
      out.push(Math.fround(x / 2 ** 32 - 0.5));
    }
    return out;
  }

  /** Writes the model and returns the values its file holds (after rounding to its dtype). */
  function model(file: string, seed: number, dtype: "F32" | "F16" | "BF16", rename: Record<string, string> = {}): Map<string, number[]> {
    const held = new Map<string, number[]>();
    const tensors = Object.entries(sizes).map(([name, n], k) => {
      const v = values(seed * 31 + k, n);
      let data: Uint8Array;
      if (dtype === "F32") data = new Uint8Array(new Float32Array(v).buffer);
      else if (dtype === "F16") {
        const bits = v.map(float32ToHalfBits);
        data = new Uint8Array(new Uint16Array(bits).buffer);
        bits.forEach((h, i) => (v[i] = halfBitsToFloat(h)));
      } else {
        const bits = v.map(float32ToBfloat16Bits);
        data = new Uint8Array(new Uint16Array(bits).buffer);
        bits.forEach((h, i) => (v[i] = bfloat16BitsToFloat(h)));
      }
      held.set(name, v);
      return { name: rename[name] ?? name, dtype, shape: [n], data };
    });
    fs.writeFileSync(path.join(dir, file), writeSafetensors(tensors));
    return held;
  }

  function reference(a: Map<string, number[]>, b: Map<string, number[]>, names: string[], c?: Map<string, number[]>): number {
    let dot = 0;
    let aa = 0;
    let bb = 0;
    for (const name of names) {
      const x = a.get(name)!;
      const y = b.get(name)!;
      const z = c?.get(name);
      for (let i = 0; i < x.length; i++) {
        const p = x[i] - (z ? z[i] : 0);
        const q = y[i] - (z ? z[i] : 0);
        dot += p * q;
        aa += p * p;
        bb += q * q;
      }
    }
    return dot / Math.sqrt(aa * bb);
  }

  const close = (actual: number | null, expected: number) => {
    expect(actual).not.toBeNull();
    expect(Math.abs(actual! - expected)).toBeLessThanOrEqual(1e-12);
  };

  test("cosines per group and over all, of the values and of their deltas from the ancestor", () => {
    const a = model("a.safetensors", 1, "F32");
    const b = model("b.safetensors", 2, "F16", { "b.one": "b.renamed" });
    const c = model("c.safetensors", 3, "BF16");
    const side = (f: string) => ({ file: path.join(dir, f), layout: null });
    const result = pairSimilarity({
      a: side("a.safetensors"),
      b: side("b.safetensors"),
      ancestor: side("c.safetensors"),
      tensors: [
        { group: "a", a: "a.big", b: "a.big" },
        { group: "a", a: "a.small", b: "a.small" },
        { group: "b", a: "b.one", b: "b.renamed" },
      ],
    });
    const all = Object.keys(sizes);
    close(result.cosine, reference(a, b, all));
    close(result.ancestorCosine, reference(a, b, all, c));
    expect(result.groups.map((g) => [g.prefix, g.tensors, g.elements])).toEqual([["a", 2, 600_006], ["b", 1, 262_144]]);
    close(result.groups[0].cosine, reference(a, b, ["a.big", "a.small"]));
    close(result.groups[1].ancestorCosine, reference(a, b, ["b.one"], c));
    expect(result.elements).toBe(600_006 + 262_144);
  });

  test("a side of zeros has no cosine; a missing tensor is a clear error", () => {
    fs.writeFileSync(path.join(dir, "zero.safetensors"), writeSafetensors([{ name: "a.small", dtype: "F32", shape: [5], data: new Uint8Array(20) }]));
    model("a.safetensors", 1, "F32");
    const side = (f: string) => ({ file: path.join(dir, f), layout: null });
    const result = pairSimilarity({ a: side("a.safetensors"), b: side("zero.safetensors"), ancestor: null, tensors: [{ group: "a", a: "a.small", b: "a.small" }] });
    expect(result.cosine).toBeNull();
    expect(result.ancestorCosine).toBeNull();
    expect(() => pairSimilarity({ a: side("a.safetensors"), b: side("zero.safetensors"), ancestor: null, tensors: [{ group: "a", a: "a.big", b: "a.big" }] })).toThrow(/second model has no tensor "a.big"/);
  });

  test("ONNX: raw F32 against fp16 stored as unpacked typed fields (read whole, not in chunks)", () => {
    const a = buildSegNet({ seed: 1 });
    const b = buildSegNet({ seed: 2, dtype: "F16", encoding: "typed-unpacked" });
    fs.writeFileSync(path.join(dir, "a.onnx"), a.bytes);
    fs.writeFileSync(path.join(dir, "b.onnx"), b.bytes);
    const shared = a.description.tensors.filter((t) => t.mergeable);
    const valuesOf = (net: typeof a) => new Map(net.description.tensors.map((t) => [t.name, t.values]));
    const result = pairSimilarity({
      a: { file: path.join(dir, "a.onnx"), layout: null },
      b: { file: path.join(dir, "b.onnx"), layout: null },
      ancestor: null,
      tensors: shared.map((t) => ({ group: t.group, a: t.name, b: t.name })),
    });
    expect(result.tensorCount).toBe(shared.length);
    close(result.cosine, reference(valuesOf(a), valuesOf(b), shared.map((t) => t.name)));
  });
});
