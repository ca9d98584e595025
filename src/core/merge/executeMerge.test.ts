import { DomainError } from "../errors";
import { executeMerge, type MergeIo } from "./executeMerge";
import { decodeToFloat64 } from "./decodeFloats";
import { goldenScenarios, type GoldenScenario } from "./fixtures/goldenScenarios";
import { isFloating } from "../structure/types";
import { f32Tensor, memoryIo, syntheticModel, SyntheticModel } from "./fixtures/syntheticModel";
import { f32, mergeAll, randomValues } from "./fixtures/mergeHarness";
import { f32BitsToBf16Bits, f32BitsToF16Bits } from "./halfPrecision";
import { planMerge } from "./planMerge";


/**
 * What a golden check compares for one tensor: its hex bytes, or, for a scenario with a
 * tolerance (float64 statistics summed in another order than numpy's), its float values with
 * the largest relative error over the elements (at most the tolerance) and the same byte length.
 */
function goldenView(s: GoldenScenario, name: string, bytes: Uint8Array): unknown {
  const hex = Buffer.from(bytes).toString("hex");
  const expected = s.expected[name];
  const tensor = s.anchor.parsed.tensors.find((t) => t.name === name)!;
  if (s.tolerance === undefined || hex === expected || !isFloating(tensor.dtype)) return { name, hex };
  const want = decodeToFloat64(new Uint8Array(Buffer.from(expected, "hex")), tensor.dtype);
  const got = decodeToFloat64(bytes, tensor.dtype);
  let worst = 0;
  want.forEach((w, i) => (worst = Math.max(worst, Math.abs(got[i] - w) / Math.max(Math.abs(w), Number.MIN_VALUE))));
  return { name, hex: got.length === want.length && worst <= s.tolerance ? expected : `${hex} (relative error ${worst})` };
}


describe.each(["simd", "js"] as const)("executeMerge against makeGoldens.py (numpy float32, in the documented order), %s kernels", (kernels) => {
  it.each(goldenScenarios.map((s) => [s.name, s] as const))("%s", async (_name, s) => {
    const out = await mergeAll(s, s, { kernels });
    for (const [name, hex] of Object.entries(s.expected)) expect(goldenView(s, name, out.get(name)!)).toEqual({ name, hex });
    expect(out.size).toBe(Object.keys(s.expected).length);
  });

  it("gives the same bytes when merging chunk by chunk (3 elements; the tensors hold 2 to 6) as whole tensors", async () => {
    for (const s of goldenScenarios) {
      const whole = await mergeAll(s, s, { kernels });
      const chunked = await mergeAll(s, s, { ranged: true, chunkElements: 3, kernels });
      for (const [name, bytes] of whole) expect(Buffer.from(chunked.get(name)!).equals(Buffer.from(bytes))).toBe(true);
    }
  });

  it.each([
    [1, undefined],
    [3, "requested"],
    [3, "reversed"],
    [1 << 20, "requested"],
  ] as const)("gives numpy's bytes when reading through rangeReader into reused buffers (chunks of %i, read-ahead order %s)", async (chunkElements, order) => {
    for (const s of goldenScenarios) {
      const out = await mergeAll(s, s, { readers: true, chunkElements, kernels, order });
      for (const [name, hex] of Object.entries(s.expected)) {
        expect({ scenario: s.name, ...(goldenView(s, name, out.get(name)!) as object) }).toEqual({ scenario: s.name, name, hex });
      }
    }
  });
});

describe("executeMerge by hand", () => {
  it("LINEAR over 3 layers with 2 models", async () => {
    // N = 2, t = 0, 1/2, 1 → w_a = 1/2, 3/4, 1.
    // layer 0: 0.5·2 + 0.5·4 = 3;  layer 1: 0.75·8 + 0.25·(−8) = 4;  layer 2: anchor's 5 (w_c = 0)
    const anchor = syntheticModel([f32Tensor("a", [1], 0, [2]), f32Tensor("b", [1], 1, [8]), f32Tensor("c", [1], 2, [5])], 3);
    const other = syntheticModel([f32Tensor("a", [1], 0, [4]), f32Tensor("b", [1], 1, [-8]), f32Tensor("c", [1], 2, [100])], 3);
    const out = await mergeAll({ anchor, contributors: [other] }, {});
    expect(["a", "b", "c"].map((n) => f32(out.get(n)!)[0])).toEqual([3, 4, 5]);
  });

  it("TASK_ARITHMETIC, TIES and DARE (p = 0) on one 4-element tensor", async () => {
    // base θ_b = [1, 1, 1, 1]; UNIFORM with 3 models → w = 1/3 each.
    // τ_anchor = [ 3, −1,  0,  2]
    // τ_c1     = [ 3,  2, −6,  0]
    // τ_c2     = [−3,  2,  0, −1]
    const base = syntheticModel([f32Tensor("w", [4], 0, [1, 1, 1, 1])], 1);
    const anchor = syntheticModel([f32Tensor("w", [4], 0, [4, 0, 1, 3])], 1);
    const c1 = syntheticModel([f32Tensor("w", [4], 0, [4, 3, -5, 1])], 1);
    const c2 = syntheticModel([f32Tensor("w", [4], 0, [-2, 3, 1, 0])], 1);
    const models = { anchor, contributors: [c1, c2], base };
    // TA, λ = 1.5: Σ τ / 3 = [3, 3, −6, 1]/3 = [1, 1, −2, 1/3]; θ = 1 + 1.5·that = [2.5, 2.5, −2, 1.5]
    const ta = f32((await mergeAll(models, { method: "TASK_ARITHMETIC", schedule: { kind: "UNIFORM" }, params: { lambda: 1.5 } })).get("w")!);
    expect(ta[0]).toBeCloseTo(2.5, 6);
    expect(ta[1]).toBeCloseTo(2.5, 6);
    expect(ta[2]).toBeCloseTo(-2, 6);
    expect(ta[3]).toBeCloseTo(1.5, 6);
    // TIES, density 0.5 → keep round(0.5·4) = 2 entries per vector by magnitude (ties by index):
    //   τ̂_anchor = [3, 0, 0, 2]   τ̂_c1 = [3, 0, −6, 0]   τ̂_c2 = [−3, 2, 0, 0]
    //   elected sign of Σ: [3, 2, −6, 2] → [+, +, −, +]
    //   disjoint means: e0 = (3 + 3)/2 = 3 (c2's −3 disagrees); e1 = 2 (c2 only); e2 = −6; e3 = 2
    //   θ = 1 + [3, 2, −6, 2] = [4, 3, −5, 3]
    const ties = f32((await mergeAll(models, { method: "TIES", schedule: { kind: "UNIFORM" }, params: { density: 0.5 } })).get("w")!);
    expect(ties).toEqual([4, 3, -5, 3]);
    // DARE with p = 0 drops nothing and scales by 1: same as TA with λ = 1 → 1 + [1, 1, −2, 1/3]
    const dare = f32((await mergeAll(models, { method: "DARE", schedule: { kind: "UNIFORM" }, params: { dropRate: 0 } })).get("w")!);
    expect(dare[0]).toBeCloseTo(2, 6);
    expect(dare[2]).toBeCloseTo(-1, 6);
    expect(dare[3]).toBeCloseTo(4 / 3, 6);
  });

  it("copies the anchor's unshared head byte for byte (cross-architecture)", async () => {
    const head = f32Tensor("head.weight", [3], 1, [0.1, -0.2, 0.3]);
    const anchor = syntheticModel([f32Tensor("backbone.w", [2], 0, [1, 2]), head], 2);
    const other = syntheticModel([f32Tensor("backbone.w", [2], 0, [3, 4]), f32Tensor("head.weight", [5], 1, [9, 9, 9, 9, 9])], 2);
    const out = await mergeAll({ anchor, contributors: [other] }, {});
    expect(Buffer.from(out.get("head.weight")!).equals(Buffer.from(head.bytes))).toBe(true);
    // layer 0 of 2, LINEAR: t = 0 → w = 1/2 each → [2, 3]
    expect(f32(out.get("backbone.w")!)).toEqual([2, 3]);
  });
});

describe("executeMerge against a float64 reference loop", () => {
  const n = 1000;
  const names = ["l0", "l1", "l2", "l3", "l4"];
  const build = (seed: number): SyntheticModel =>
    syntheticModel(names.map((name, l) => f32Tensor(name, [n], l, randomValues(n, seed * 31 + l, 0.5))), names.length);
  const anchor = build(1);
  const contributors = [build(2), build(3), build(4)];
  const base = build(5);
  const values = (m: SyntheticModel, l: number): number[] => Array.from(new Float32Array(m.data.slice(l * n * 4, (l + 1) * n * 4).buffer));

  // reference: the layer-wise formula (docs/CONVENTIONS.md) evaluated in float64, written
  // independently of layerWeights.ts
  const weightsAt = (l: number, rel: number[]): number[] => {
    const t = l / (names.length - 1);
    const s = (1 - Math.cos(Math.PI * t)) / 2; // COSINE
    const wa = 1 / 4 + (3 / 4) * s;
    const total = rel[0] + rel[1] + rel[2];
    return [wa, ...rel.map((r) => ((1 - wa) * r) / total)];
  };

  it("LAYERWISE COSINE with relative weights, chunked in 7s: within float32 rounding of the float64 result", async () => {
    const rel = [1, 2, 0.5];
    const out = await mergeAll({ anchor, contributors }, { schedule: { kind: "COSINE" }, weights: rel }, { ranged: true, chunkElements: 7 });
    names.forEach((name, l) => {
      const w = weightsAt(l, rel);
      const got = f32(out.get(name)!);
      const models = [anchor, ...contributors].map((m) => values(m, l));
      for (let i = 0; i < n; i++) {
        const expected = models.reduce((sum, x, k) => sum + w[k] * x[i], 0);
        expect(Math.abs(got[i] - expected)).toBeLessThan(4e-7);
      }
    });
  });

  it("DARE: chunks of 7 equal the whole tensor, and every element is base + λ·Σ_k w_k m_k τ_k/(1−p) for some mask", async () => {
    const recipe = { method: "DARE", schedule: { kind: "UNIFORM" }, params: { dropRate: 0.5, seed: 99, lambda: 0.8 } };
    const whole = await mergeAll({ anchor, contributors, base }, recipe);
    const chunked = await mergeAll({ anchor, contributors, base }, recipe, { ranged: true, chunkElements: 7 });
    let kept = 0;
    names.forEach((name, l) => {
      expect(Buffer.from(chunked.get(name)!).equals(Buffer.from(whole.get(name)!))).toBe(true);
      const got = f32(whole.get(name)!);
      const b = values(base, l);
      const taus = [anchor, ...contributors].map((m) => values(m, l).map((v, i) => v - b[i]));
      for (let i = 0; i < n; i++) {
        // find a mask among the 16 that explains the value (float64 arithmetic)
        let best = Infinity;
        let bestMask = 0;
        for (let mask = 0; mask < 16; mask++) {
          let s = 0;
          for (let k = 0; k < 4; k++) if (mask & (1 << k)) s += 0.25 * taus[k][i] * 2;
          const d = Math.abs(b[i] + 0.8 * s - got[i]);
          if (d < best) { best = d; bestMask = mask; }
        }
        expect(best).toBeLessThan(2e-6);
        for (let k = 0; k < 4; k++) if (bestMask & (1 << k)) kept++;
      }
    });
    // about half the 4·5·1000 entries survive (sd = √(20000/4) ≈ 71)
    expect(Math.abs(kept - 10000)).toBeLessThan(400);
  });
});

describe.each(["simd", "js"] as const)("LAYERWISE over mixed dtypes and long tensors, against a plain float32 loop, %s kernels", (kernels) => {
  // Reference, written apart from the kernels: decode by the format's definition, accumulate in
  // float32 (Math.fround after every operation) anchor first, encode with the scalar codecs
  // (checked against numpy in encodeFloats.test.ts).
  const decode = (dtype: string, bytes: Uint8Array, i: number): number => {
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (dtype === "F32") return v.getFloat32(i * 4, true);
    const h = v.getUint16(i * 2, true);
    if (dtype === "BF16") return new Float32Array(Uint32Array.of(h << 16).buffer)[0];
    const e = (h >> 10) & 31;
    const m = h & 1023;
    const mag = e === 0 ? m * 2 ** -24 : e === 31 ? (m ? NaN : Infinity) : (1 + m / 1024) * 2 ** (e - 15);
    return h & 0x8000 ? -mag : mag;
  };
  const randomTensor = (dtype: "F32" | "F16" | "BF16", n: number, seed: number): Uint8Array => {
    const values = randomValues(n, seed, 4);
    // a few fp16 subnormals and exact zeros of both signs
    for (let i = 0; i < n; i += 97) values[i] = (i % 3 === 0 ? 3e-6 : -2e-7) * (1 + (i % 5));
    values[5] = 0;
    values[6] = -0;
    if (dtype === "F32") return new Uint8Array(Float32Array.from(values).buffer);
    const f32 = Float32Array.from(values);
    const bits = new Uint32Array(f32.buffer);
    return new Uint8Array(Uint16Array.from(f32, (x, i) => (dtype === "F16" ? f32BitsToF16Bits(bits[i], x) : f32BitsToBf16Bits(bits[i]))).buffer);
  };
  const n = 10_007;
  const cases: Array<["F32" | "F16" | "BF16", Array<"F32" | "F16" | "BF16">]> = [
    ["F32", ["F32", "F16", "BF16"]],
    ["F16", ["F16", "F32", "F16"]],
    ["BF16", ["BF16", "BF16", "F32"]],
  ];
  it.each(cases)("%s anchor with %j contributors, chunks of 1000 through rangeReader, whole, and streamed in pieces", async (anchorDtype, contributorDtypes) => {
    const model = (dtype: "F32" | "F16" | "BF16", seed: number) =>
      syntheticModel([0, 1, 2].map((l) => ({ name: `w${l}`, shape: [n], dtype, layerIndex: l, bytes: randomTensor(dtype, n, seed * 10 + l) })), 3);
    const anchor = model(anchorDtype, 1);
    const contributors = contributorDtypes.map((d, k) => model(d, k + 2));
    const recipe = { schedule: { kind: "COSINE" }, weights: [1, 2, 0.5] };
    const plan = planMerge({ anchor: anchor.parsed, contributors: contributors.map((c) => c.parsed), ...recipe });
    const chunked = await mergeAll({ anchor, contributors }, recipe, { readers: true, chunkElements: 1000, kernels, order: "requested" });
    const whole = await mergeAll({ anchor, contributors }, recipe, { kernels });
    const streamedLate = await mergeAll({ anchor, contributors }, recipe, { readers: true, chunkElements: 1000, kernels, order: "requested", streamed: "late-recycle" });
    const streamedHeld = await mergeAll({ anchor, contributors }, recipe, { readers: true, chunkElements: 1000, kernels, order: "requested", streamed: "never-recycle" });
    for (const p of plan.tensors) {
      if (p.action !== "merge") throw new Error("every tensor is shared");
      const inputs = p.inputs.map((x) => ({ w: Math.fround(x.weight), dtype: x.tensor.dtype, bytes: [anchor, ...contributors][x.model].data.subarray((x.tensor.location as { offset: number }).offset) }));
      const expected = new Uint8Array(n * (anchorDtype === "F32" ? 4 : 2));
      const view = new DataView(expected.buffer);
      for (let i = 0; i < n; i++) {
        let acc = 0;
        for (const x of inputs) acc = Math.fround(acc + Math.fround(x.w * decode(x.dtype, x.bytes, i)));
        if (anchorDtype === "F32") view.setFloat32(i * 4, acc, true);
        else {
          const bits = new Uint32Array(Float32Array.of(acc).buffer)[0];
          view.setUint16(i * 2, anchorDtype === "F16" ? f32BitsToF16Bits(bits, acc) : f32BitsToBf16Bits(bits), true);
        }
      }
      expect(Buffer.from(chunked.get(p.tensor.name)!).equals(Buffer.from(expected))).toBe(true);
      expect(Buffer.from(whole.get(p.tensor.name)!).equals(Buffer.from(expected))).toBe(true);
      expect(Buffer.from(streamedLate.get(p.tensor.name)!).equals(Buffer.from(expected))).toBe(true);
      expect(Buffer.from(streamedHeld.get(p.tensor.name)!).equals(Buffer.from(expected))).toBe(true);
    }
  });
});

describe("TIES on float64 tensors with many equal magnitudes", () => {
  it("chunked in 7s, equals a sort-based float64 reference (top round(k·n) by magnitude, ties by index)", async () => {
    const n = 200;
    const f64Tensor = (values: number[]) => ({ name: "w", shape: [n], dtype: "F64" as const, layerIndex: 0, bytes: new Uint8Array(Float64Array.from(values).buffer) });
    // A zero base and values drawn from ±6 full-precision magnitudes: many task-vector entries
    // share a magnitude (the threshold is tied), and every bit of the float64 matters.
    const palette = randomValues(6, 99, 1);
    const pick = (seed: number) => randomValues(n, seed, 1).map((v) => Math.sign(v) * palette[Math.floor(Math.abs(v) * 6)]);
    const [b, ...xs] = [new Array<number>(n).fill(0), pick(12), pick(13), pick(14)];
    const models = { base: syntheticModel([f64Tensor(b)], 1), anchor: syntheticModel([f64Tensor(xs[0])], 1), contributors: [syntheticModel([f64Tensor(xs[1])], 1), syntheticModel([f64Tensor(xs[2])], 1)] };
    const density = 0.3;
    const lambda = 0.9;
    const out = await mergeAll(models, { method: "TIES", schedule: { kind: "UNIFORM" }, params: { density, lambda } }, { ranged: true, chunkElements: 7 });

    // UNIFORM, N = 3 (docs/CONVENTIONS.md): w_a = 1/3, each contributor (1 − w_a)/2.
    const ws = [1 / 3, (1 - 1 / 3) / 2, (1 - 1 / 3) / 2];
    const keep = Math.round(density * n);
    const trimmed = xs.map((x) => {
      const tau = x.map((v, i) => v - b[i]);
      const order = tau.map((_, i) => i).sort((i, j) => Math.abs(tau[j]) - Math.abs(tau[i]) || i - j);
      const kept = new Set(order.slice(0, keep));
      return tau.map((v, i) => (kept.has(i) ? v : 0));
    });
    const expected = b.map((base, i) => {
      let elected = 0;
      trimmed.forEach((t, k) => (elected += ws[k] * t[i]));
      let num = 0;
      let den = 0;
      trimmed.forEach((t, k) => {
        if (t[i] !== 0 && Math.sign(t[i]) === Math.sign(elected)) {
          num += ws[k] * t[i];
          den += ws[k];
        }
      });
      return base + lambda * (den > 0 ? num / den : 0);
    });
    expect(Array.from(new Float64Array(out.get("w")!.slice().buffer))).toEqual(expected);
  });
});

describe("SLERP and MODEL_STOCK by hand", () => {
  it("SLERP of two orthogonal unit vectors at t = 1/2 is the unit bisector; at the last LINEAR layer (t = 0) the anchor", async () => {
    // θ = π/2: s0 = s1 = sin(π/4) / sin(π/2) = √½.
    const anchor = syntheticModel([f32Tensor("a", [2], 0, [1, 0]), f32Tensor("b", [2], 1, [3, 4])], 2);
    const other = syntheticModel([f32Tensor("a", [2], 0, [0, 1]), f32Tensor("b", [2], 1, [-4, 3])], 2);
    const out = await mergeAll({ anchor, contributors: [other] }, { method: "SLERP" });
    expect(f32(out.get("a")!)).toEqual([Math.fround(Math.SQRT1_2), Math.fround(Math.SQRT1_2)]);
    expect(f32(out.get("b")!)).toEqual([3, 4]);
  });

  it("MODEL_STOCK refuses a tensor whose task vectors cancel out (1 + (k − 1)·c = 0), naming it", async () => {
    // base 0; τ_anchor = [1, 2], τ_c = [−1, −2]: c = −1, k = 2 → 1 + c = 0.
    const base = syntheticModel([f32Tensor("w", [2], 0, [0, 0]), f32Tensor("v", [1], 0, [0])], 1);
    const anchor = syntheticModel([f32Tensor("w", [2], 0, [1, 2]), f32Tensor("v", [1], 0, [1])], 1);
    const other = syntheticModel([f32Tensor("w", [2], 0, [-1, -2]), f32Tensor("v", [1], 0, [3])], 1);
    const error = await mergeAll({ anchor, contributors: [other], base }, { method: "MODEL_STOCK" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({ code: "BAD_USER_INPUT", message: expect.stringMatching(/MODEL_STOCK cannot merge tensor "w": .*cosine -1\.0+, so 1 \+ \(k − 1\)·c ≤ 0/) });
  });

  it("MODEL_STOCK of two parallel task vectors (c = 1, t = 1) is their mean", async () => {
    const base = syntheticModel([f32Tensor("w", [2], 0, [1, 1])], 1);
    const anchor = syntheticModel([f32Tensor("w", [2], 0, [2, 3])], 1);
    const other = syntheticModel([f32Tensor("w", [2], 0, [4, 7])], 1);
    const out = await mergeAll({ anchor, contributors: [other], base }, { method: "MODEL_STOCK" });
    expect(f32(out.get("w")!)).toEqual([3, 5]);
  });
});
