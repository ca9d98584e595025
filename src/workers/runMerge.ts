import { FileByteSource } from "../core/formats/byteSource";
import { openFileSink } from "../core/formats/fileSink";
import { parseModelFile } from "../core/formats/parseModelFile";
import { openExternalData } from "../core/formats/onnx/externalData";
import { readTensorBytes } from "../core/formats/onnx/readTensorBytes";
import { planOnnxRewrite } from "../core/formats/onnx/planOnnxRewrite";
import { writeOnnxRewrite } from "../core/formats/onnx/writeOnnxRewrite";
import { rewriteSafetensors } from "../core/formats/safetensors/rewriteSafetensors";
import { BASE_MODEL_INDEX, executeMerge, planMerge } from "../core/merge";
import type { MergePlan } from "../core/merge";
import { DTYPE_BYTES, type ParsedModel, type TensorInfo } from "../core/structure/types";
import { badInput } from "../core/errors";

export interface MergeModelRef {
  file: string;
  name: string;
}

export interface RunMergePayload {
  anchor: MergeModelRef;
  contributors: MergeModelRef[];
  base?: MergeModelRef | null;
  recipe: { method: string; schedule: { kind?: string; cutoff?: number | null; knots?: number[] | null }; weights: number[] | null; params: Record<string, number> };
  outFile: string;
  /** Recorded in the output (ONNX metadata_props / safetensors __metadata__). */
  metadata: Record<string, string>;
}

export interface RunMergeResult {
  format: "onnx" | "safetensors";
  outputBytes: number;
  layers: MergePlan["layers"];
  meanWeights: number[];
  mergedCount: number;
  copiedCount: number;
  inputBytes: number;
}

interface OpenModel {
  parsed: ParsedModel;
  source: FileByteSource;
  external?: ReturnType<typeof openExternalData>;
}

function open(ref: MergeModelRef): OpenModel {
  const parsed = parseModelFile(ref.file);
  // Tensors are read by range; a window as large as a typical tensor chunk keeps reads few.
  const source = new FileByteSource(ref.file, 4 << 20);
  return { parsed, source };
}

/**
 * One merge, start to finish, in a worker thread (issue 4): parse every input, plan, then stream
 * the anchor's file to `outFile` with merged tensors computed one at a time. Memory is bounded
 * by the tensors in flight, not by the number or size of the models.
 */
export async function runMerge(payload: RunMergePayload, onProgress: (p: { fraction: number; message: string }) => void): Promise<RunMergeResult> {
  const anchor = open(payload.anchor);
  const contributors = payload.contributors.map(open);
  const base = payload.base ? open(payload.base) : null;
  const all = [anchor, ...contributors];
  try {
    const plan = planMerge({
      anchor: anchor.parsed,
      contributors: contributors.map((c) => c.parsed),
      base: base?.parsed ?? null,
      method: payload.recipe.method,
      schedule: payload.recipe.schedule,
      weights: payload.recipe.weights,
      params: payload.recipe.params,
      names: { anchor: payload.anchor.name, contributors: payload.contributors.map((c) => c.name), base: payload.base?.name },
    });
    const model = (index: number) => (index === BASE_MODEL_INDEX ? base! : all[index]);
    const run = executeMerge(
      plan,
      {
        async readTensor(index, tensor) {
          const m = model(index);
          return readTensorBytes(m.source, tensor, m.external);
        },
        async readTensorRange(index, tensor, start, count) {
          const m = model(index);
          if (tensor.location.kind !== "raw" || tensor.location.file) {
            const whole = readTensorBytes(m.source, tensor, m.external);
            const width = DTYPE_BYTES[tensor.dtype];
            return whole.subarray(start * width, (start + count) * width);
          }
          const width = DTYPE_BYTES[tensor.dtype];
          // A copy: the source's window buffer is reused by the next read.
          return Uint8Array.from(m.source.read(tensor.location.offset + start * width, count * width));
        },
      },
      { onProgress: (fraction, message) => onProgress({ fraction, message }) },
    );
    const merged = new Set(plan.tensors.filter((t) => t.action === "merge").map((t) => t.tensor.name));
    const byName = new Map<string, TensorInfo>(anchor.parsed.tensors.map((t) => [t.name, t]));
    const sink = await openFileSink(payload.outFile);
    try {
      if (anchor.parsed.format === "onnx") {
        const rewrite = planOnnxRewrite(anchor.source, anchor.parsed, merged, payload.metadata, { openExternal: anchor.external });
        await writeOnnxRewrite(rewrite, (t) => run.getMergedTensorBytes(t), sink);
      } else {
        await rewriteSafetensors(
          anchor.source,
          {
            replace: merged,
            getTensorBytes: (ref) => {
              const t = byName.get(ref.name);
              if (!t) throw badInput(`the anchor lists no tensor ${JSON.stringify(ref.name)}`);
              return run.getMergedTensorBytes(t);
            },
            metadata: payload.metadata,
          },
          sink,
        );
      }
      run.finish();
      await sink.close();
    } catch (error) {
      await sink.abort();
      throw error;
    }
    return {
      format: anchor.parsed.format,
      outputBytes: sink.bytesWritten,
      layers: plan.layers,
      meanWeights: plan.meanWeights,
      mergedCount: plan.mergedCount,
      copiedCount: plan.copiedCount,
      inputBytes: plan.inputBytes,
    };
  } finally {
    for (const m of [...all, ...(base ? [base] : [])]) {
      m.source.close();
      m.external?.close();
    }
  }
}
