import { DomainError } from "../errors";
import { executeMerge } from "./executeMerge";
import { f32Tensor, memoryIo, syntheticModel, type SyntheticModel } from "./fixtures/syntheticModel";
import { f32, randomValues } from "./fixtures/mergeHarness";
import { planMerge } from "./planMerge";

/* The scheduler's side of executeMerge: what it refuses, how it reports progress, cancels, answers repeated requests and reads its inputs. The arithmetic of each method is tested in executeMerge.test.ts. */

describe("executeMerge refusals, progress and cancellation", () => {
  const anchor = syntheticModel([f32Tensor("w", [3], 0, [1, 2, 3]), f32Tensor("v", [2], 1, [1, 1])], 2);

  it("refuses NaN and Inf in any input, naming model and tensor", async () => {
    const bad = syntheticModel([f32Tensor("w", [3], 0, [1, NaN, 3]), f32Tensor("v", [2], 1, [1, Infinity])], 2);
    const plan = planMerge({ anchor: anchor.parsed, contributors: [bad.parsed], names: { anchor: "segformer-a", contributors: ["daformer-b"] } });
    const exec = executeMerge(plan, memoryIo({ anchor, contributors: [bad] }));
    await expect(exec.getMergedTensorBytes(anchor.parsed.tensors[0])).rejects.toThrow('daformer-b: tensor "w" holds NaN at element 1');
    await expect(exec.getMergedTensorBytes(anchor.parsed.tensors[1])).rejects.toThrow('daformer-b: tensor "v" holds +Inf at element 1');
  });

  it("refuses Inf and NaN in fp16 inputs (flagged by the SIMD decoder), naming model, tensor and element", async () => {
    const f16 = (name: string, codes: number[]) => syntheticModel([{ name, shape: [codes.length], dtype: "F16", layerIndex: 0, bytes: new Uint8Array(Uint16Array.from(codes).buffer) }], 1);
    const ones = Array.from({ length: 20 }, () => 0x3c00);
    for (const [code, what] of [[0x7c00, "+Inf"], [0xfc00, "-Inf"], [0x7e00, "NaN"]] as const) {
      const a = f16("w", ones);
      const b = f16("w", ones.map((h, i) => (i === 13 ? code : h)));
      const plan = planMerge({ anchor: a.parsed, contributors: [b.parsed], names: { anchor: "a", contributors: ["b"] } });
      for (const kernels of ["simd", "js"] as const) {
        const whole = executeMerge(plan, memoryIo({ anchor: a, contributors: [b] }), { kernels });
        await expect(whole.getMergedTensorBytes(a.parsed.tensors[0])).rejects.toThrow(`b: tensor "w" holds ${what} at element 13`);
        const streamed = executeMerge(plan, memoryIo({ anchor: a, contributors: [b] }), { kernels });
        const drain = async () => {
          for await (const piece of streamed.mergedTensorChunks(a.parsed.tensors[0])) streamed.recycle(piece);
        };
        await expect(drain()).rejects.toThrow(`b: tensor "w" holds ${what} at element 13`);
      }
    }
  });

  it("refuses a result that overflows the anchor's F16", async () => {
    // F16 anchor 60000, F32 contributor 80000, UNIFORM: (60000 + 80000)/2 = 70000 > 65504 → Inf
    const a16 = syntheticModel([{ name: "w", shape: [1], dtype: "F16", layerIndex: 0, bytes: new Uint8Array(Uint16Array.from([0x7b53]).buffer) }], 1);
    const c32 = syntheticModel([f32Tensor("w", [1], 0, [80000])], 1);
    const plan = planMerge({ anchor: a16.parsed, contributors: [c32.parsed], schedule: { kind: "UNIFORM" } });
    const exec = executeMerge(plan, memoryIo({ anchor: a16, contributors: [c32] }));
    await expect(exec.getMergedTensorBytes(a16.parsed.tensors[0])).rejects.toThrow(/merged tensor "w" overflows F16/);
  });

  it("reports progress by bytes read, reaching 1", async () => {
    const other = syntheticModel([f32Tensor("w", [3], 0, [0, 0, 0]), f32Tensor("v", [2], 1, [0, 0])], 2);
    const plan = planMerge({ anchor: anchor.parsed, contributors: [other.parsed] });
    const seen: number[] = [];
    const exec = executeMerge(plan, memoryIo({ anchor, contributors: [other] }), { onProgress: (f) => seen.push(f) });
    await exec.getMergedTensorBytes(anchor.parsed.tensors[0]);
    // total input bytes = 2 models × (3 + 2) × 4 = 40; after "w": 2 × 12 = 24 → 0.6
    expect(seen[seen.length - 1]).toBeCloseTo(0.6, 12);
    await exec.getMergedTensorBytes(anchor.parsed.tensors[1]);
    exec.finish();
    expect(seen[seen.length - 1]).toBe(1);
    expect(seen.every((f, i) => i === 0 || f >= seen[i - 1])).toBe(true);
  });

  it("says which tensor it is merging while inside it, then that it merged it", async () => {
    const other = syntheticModel([f32Tensor("w", [3], 0, [0, 0, 0]), f32Tensor("v", [2], 1, [0, 0])], 2);
    const plan = planMerge({ anchor: anchor.parsed, contributors: [other.parsed] });
    const messages: string[] = [];
    const exec = executeMerge(plan, memoryIo({ anchor, contributors: [other] }), { onProgress: (_, message) => messages.push(message) });
    await exec.getMergedTensorBytes(anchor.parsed.tensors[0]);
    // The first step inside a tensor always reports (the next ones at most every 20 ms).
    expect(messages[0]).toBe("merging w (1/2)");
    expect(messages[messages.length - 1]).toBe("merged w (1/2)");
  });

  it("throws CANCELLED when the signal aborts, also between the inputs of one tensor", async () => {
    const other = syntheticModel([f32Tensor("w", [3], 0, [0, 0, 0]), f32Tensor("v", [2], 1, [0, 0])], 2);
    const plan = planMerge({ anchor: anchor.parsed, contributors: [other.parsed] });
    const controller = new AbortController();
    const io = memoryIo({ anchor, contributors: [other] });
    const readTensor = io.readTensor.bind(io);
    io.readTensor = async (model, t) => {
      if (model === 1) controller.abort();
      return readTensor(model, t);
    };
    const exec = executeMerge(plan, io, { signal: controller.signal });
    const error = await exec.getMergedTensorBytes(anchor.parsed.tensors[0]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).code).toBe("CANCELLED");
    await expect(exec.getMergedTensorBytes(anchor.parsed.tensors[1])).rejects.toMatchObject({ code: "CANCELLED" });
  });

  it("answers a repeated request (writeOnnxRewrite's second pass over varint tensors) with the same bytes, counted once", async () => {
    const other = syntheticModel([f32Tensor("w", [3], 0, [3, 4, 5]), f32Tensor("v", [2], 1, [3, 3])], 2);
    const exec = executeMerge(planMerge({ anchor: anchor.parsed, contributors: [other.parsed] }), memoryIo({ anchor, contributors: [other] }));
    const first = await exec.getMergedTensorBytes(anchor.parsed.tensors[0]);
    const again = await exec.getMergedTensorBytes(anchor.parsed.tensors[0]);
    // layer 0 of 2, LINEAR: w = 1/2 each → [2, 3, 4]
    expect(f32(again)).toEqual([2, 3, 4]);
    expect(Buffer.from(again).equals(Buffer.from(first))).toBe(true);
    expect(exec.mergedTensorsDone).toBe(1);
    expect(() => exec.finish()).toThrow(/1 merged tensor\(s\) were never written/);
    await exec.getMergedTensorBytes(anchor.parsed.tensors[1]);
    expect(() => exec.finish()).not.toThrow();
  });

  it("finish() notices a merged tensor that was never produced", async () => {
    const other = syntheticModel([f32Tensor("w", [3], 0, [0, 0, 0])], 2);
    const exec = executeMerge(planMerge({ anchor: anchor.parsed, contributors: [other.parsed] }), memoryIo({ anchor, contributors: [other] }));
    expect(() => exec.finish()).toThrow(/1 merged tensor\(s\) were never written/);
  });

  it("reads each input once per tensor (TIES: statistic rounds, then an apply pass), one at a time, in chunks when it can", async () => {
    const n = 20;
    const mk = (seed: number): SyntheticModel => syntheticModel([f32Tensor("w", [n], 0, randomValues(n, seed))], 1);
    const models = { anchor: mk(1), contributors: [mk(2), mk(3)], base: mk(4) };
    const plan = planMerge({ anchor: models.anchor.parsed, contributors: models.contributors.map((c) => c.parsed), base: models.base.parsed, method: "TASK_ARITHMETIC" });
    const io = memoryIo(models, true);
    await executeMerge(plan, io, { chunkElements: 8 }).getMergedTensorBytes(models.anchor.parsed.tensors[0]);
    // chunks [0, 8), [8, 16), [16, 20): base, anchor, c1, c2 each
    expect(io.reads).toEqual([0, 8, 16].flatMap((start) => [-1, 0, 1, 2].map((m) => [m, "w", start, Math.min(8, n - start)])));
    const tiesPlan = planMerge({ anchor: models.anchor.parsed, contributors: models.contributors.map((c) => c.parsed), base: models.base.parsed, method: "TIES" });
    const tiesIo = memoryIo(models, true);
    await executeMerge(tiesPlan, tiesIo, { chunkElements: 8 }).getMergedTensorBytes(models.anchor.parsed.tensors[0]);
    // Statistic pass, one input at a time beside the base, chunk by chunk, twice (a radix select
    // on float32 bits, 16 a round); then the apply pass, chunk by chunk, the base and every
    // input: no read is larger than a chunk.
    const chunks = [0, 8, 16].map((start) => [start, Math.min(8, n - start)]);
    const round = (m: number) => chunks.flatMap(([start, count]) => [[-1, "w", start, count], [m, "w", start, count]]);
    const statistic = [0, 1, 2].flatMap((m) => [...round(m), ...round(m)]);
    const apply = chunks.flatMap(([start, count]) => [-1, 0, 1, 2].map((m) => [m, "w", start, count]));
    expect(tiesIo.reads).toEqual([...statistic, ...apply]);
  });
});
