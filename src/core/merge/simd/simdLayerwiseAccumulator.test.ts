import { f16BitsToFloat, f32BitsToBf16Bits, f32BitsToF16Bits } from "../halfPrecision";
import { jsLayerwiseAccumulator, returnLayerwiseAccumulator, takeLayerwiseAccumulator } from "../layerwiseAccumulator";
import { simdLayerwiseAccumulator } from "./simdLayerwiseAccumulator";

// References: the scalar codecs of halfPrecision.ts (checked against numpy in encodeFloats.test.ts),
// the definition of bf16 (the upper half of a float32), and plain float32 arithmetic (Math.fround).

const bytesOf = (a: Float32Array | Uint16Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const isNaN16 = (h: number, exponent: number) => (h & exponent) === exponent && (h & (0x7fff & ~exponent)) !== 0;

function randomBits(n: number, seed: number): Uint32Array {
  const bits = new Uint32Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
    // rounding ties for fp16 (13 dropped bits) and bf16 (16), small exponents for subnormal results
    bits[i] = i % 8 === 0 ? (x & 0xffffe000) | 0x1000 : i % 8 === 1 ? (x & 0xffff0000) | 0x8000 : i % 8 === 2 ? (x & 0x83ffffff) | 0x30000000 : x;
  }
  return bits;
}

describe("simdLayerwiseAccumulator", () => {
  const simd = simdLayerwiseAccumulator(70_000)!;

  it("is kept for the next merge on the thread once given back, one per kind and capacity", () => {
    const a = takeLayerwiseAccumulator(4096);
    expect(a.kind).toBe("simd");
    expect(takeLayerwiseAccumulator(4096)).not.toBe(a); // in use: a second merge gets its own
    returnLayerwiseAccumulator(a);
    expect(takeLayerwiseAccumulator(4096, "js")).not.toBe(a);
    expect(takeLayerwiseAccumulator(8192)).not.toBe(a);
    expect(takeLayerwiseAccumulator(4096)).toBe(a);
    expect(takeLayerwiseAccumulator(4096)).not.toBe(a);
  });

  it("is available on this Node", () => {
    expect(simd).not.toBeNull();
    expect(simd.kind).toBe("simd");
  });

  it("declines a chunk too large for its shared memory's fixed maximum (4 GiB), which the scalar accumulator then takes", () => {
    // 30M elements: five read slots, the staging area and 25 output slots of float32, plus 25 of 16 bits, exceed 4 GiB.
    expect((5 + 1 + 25) * 4 * 30e6 + 25 * 2 * 30e6).toBeGreaterThan(2 ** 32);
    expect(simdLayerwiseAccumulator(30_000_000)).toBeNull();
    expect(simdLayerwiseAccumulator(1 << 20)?.kind).toBe("simd");
  });

  it.each(["F16", "BF16"] as const)("encodes float32 to %s bit for bit like the scalar codec wherever the result is finite, and flags the rest (65,536 patterns, 7 chunks of odd sizes)", (dtype) => {
    const bits = randomBits(65_536, dtype === "F16" ? 7 : 8);
    const values = new Float32Array(bits.buffer);
    let at = 0;
    for (const size of [1, 7, 8, 9, 1000, 4099, 60_412]) {
      const chunk = values.subarray(at, at + size);
      at += size;
      simd.add(bytesOf(chunk), "F32", 1, true);
      const out = new Uint16Array(size);
      const flagged = simd.finish(bytesOf(out), dtype);
      let nonFinite = false;
      for (let i = 0; i < size; i++) {
        // acc = 0 + 1·x: x itself, except −0 → +0
        const acc = Math.fround(1 * chunk[i]) + 0;
        const accBits = new Uint32Array(Float32Array.of(acc).buffer)[0];
        const expected = dtype === "F16" ? f32BitsToF16Bits(accBits, acc) : f32BitsToBf16Bits(accBits);
        const exponent = dtype === "F16" ? 0x7c00 : 0x7f80;
        const expectedNonFinite = (expected & exponent) === exponent;
        if (expectedNonFinite && dtype === "F16") {
          // Overflow, Inf and NaN all give the Inf code: the merge refuses the chunk, so only the flag matters
          expect(out[i] & 0x7fff).toBe(0x7c00);
        } else if (Number.isNaN(acc)) {
          // NaN payloads may differ after the multiply; a NaN must stay a NaN
          expect(isNaN16(out[i], exponent)).toBe(true);
        } else if (out[i] !== expected) {
          throw new Error(`${dtype} of 0x${accBits.toString(16)}: got 0x${out[i].toString(16)}, expected 0x${expected.toString(16)}`);
        }
        nonFinite ||= expectedNonFinite;
      }
      expect(flagged).toBe(nonFinite);
    }
  });

  it("decodes every finite fp16 and bf16 code exactly, and flags chunks holding Inf or NaN", () => {
    const codes = Uint16Array.from({ length: 65_536 }, (_, h) => h);
    for (const dtype of ["F16", "BF16"] as const) {
      const simd65k = simdLayerwiseAccumulator(65_536)!;
      simd65k.add(bytesOf(codes), dtype, 1, true);
      const out = new Float32Array(65_536);
      expect(simd65k.finish(bytesOf(out), "F32")).toBe(true); // the Inf and NaN codes
      for (let h = 0; h < 65_536; h++) {
        const expected = dtype === "F16" ? f16BitsToFloat(h) : new Float32Array(Uint32Array.of(h << 16).buffer)[0];
        // The fp16 kernel only flags Inf and NaN inputs (the merge then refuses the chunk); bf16 ones pass through.
        if (!Number.isFinite(expected)) {
          if (dtype === "BF16") expect(Number.isNaN(expected) ? Number.isNaN(out[h]) : out[h] === expected).toBe(true);
        }
        // + 0 turns −0 into +0, as accumulating onto a zeroed accumulator does
        else if (out[h] !== Math.fround(expected) + 0 || Object.is(out[h], -0)) throw new Error(`${dtype} 0x${h.toString(16)}: ${out[h]} vs ${expected}`);
      }
    }
    // Every finite fp16 code, negated too, scaled by an awkward weight: exact, and not flagged.
    const finite = codes.filter((h) => (h & 0x7c00) !== 0x7c00);
    const simd = simdLayerwiseAccumulator(finite.length)!;
    simd.add(bytesOf(finite), "F16", 0.3, true);
    const out = new Float32Array(finite.length);
    expect(simd.finish(bytesOf(out), "F32")).toBe(false);
    for (let i = 0; i < finite.length; i++) {
      const expected = Math.fround(Math.fround(0.3) * f16BitsToFloat(finite[i])) + 0;
      if (out[i] !== expected) throw new Error(`0.3 × fp16 0x${finite[i].toString(16)}: ${out[i]} vs ${expected}`);
    }
    // One Inf among finite values, in the second of two inputs, flags the chunk.
    for (const bad of [0x7c00, 0xfc00, 0x7e01]) {
      const withBad = Uint16Array.from(finite.subarray(0, 1000));
      withBad[997] = bad;
      simd.add(bytesOf(finite.subarray(0, 1000)), "F16", 0.5, true);
      simd.add(bytesOf(withBad), "F16", 0.5, false);
      expect(simd.finish(new Uint8Array(2000), "F16")).toBe(true);
    }
  });

  it("accumulates four inputs of mixed dtypes like the scalar accumulator, and flags only real lanes", () => {
    const n = 12_345;
    const js = jsLayerwiseAccumulator(n);
    const inputs = [0, 1, 2, 3].map((k) => new Float32Array(randomBits(n, 100 + k).map((b) => (b & 0x3fffffff) | 0x38000000).buffer));
    const halves = inputs.map((v) => Uint16Array.from(new Uint32Array(v.buffer), (b) => f32BitsToF16Bits(b, 0)));
    const bf = inputs.map((v) => Uint16Array.from(new Uint32Array(v.buffer), (b) => b >>> 16));
    const plan: Array<[Uint8Array, "F32" | "F16" | "BF16", number]> = [
      [bytesOf(inputs[0]), "F32", 0.4],
      [bytesOf(halves[1]), "F16", 0.3],
      [bytesOf(bf[2]), "BF16", 0.2],
      [bytesOf(inputs[3]), "F32", 0.1],
    ];
    const run = (acc: typeof js, dtype: "F32" | "F16" | "BF16") => {
      plan.forEach(([bytes, d, w], k) => acc.add(bytes, d, w, k === 0));
      const out = new Uint8Array(n * (dtype === "F32" ? 4 : 2));
      return { flagged: acc.finish(out, dtype), out: Buffer.from(out) };
    };
    for (const dtype of ["F32", "F16", "BF16"] as const) {
      const a = run(simd, dtype);
      const b = run(js, dtype);
      expect(a.out.equals(b.out)).toBe(true);
      expect(a.flagged).toBe(b.flagged);
    }
    // a plain float32 loop for the F32 result (the scalar accumulator is tested the same way in executeMerge.test.ts)
    const ref = new Float32Array(n);
    const dec = (k: number, i: number) => (k === 0 || k === 3 ? inputs[k][i] : k === 1 ? f16BitsToFloat(halves[1][i]) : new Float32Array(Uint32Array.of(bf[2][i] << 16).buffer)[0]);
    for (let i = 0; i < n; i++) {
      let acc = 0;
      plan.forEach(([, , w], k) => (acc = Math.fround(acc + Math.fround(Math.fround(w) * dec(k, i)))));
      ref[i] = acc;
    }
    expect(run(simd, "F32").out.equals(Buffer.from(bytesOf(ref)))).toBe(true);
  });
});
