import * as fs from "node:fs";
import { FileByteSource, type ByteSource } from "../core/formats/byteSource";
import type { ArtifactStore } from "../storage/artifactStore";
import { createArtifactStore } from "../storage/createArtifactStore";
import { openFileSink } from "../core/formats/fileSink";
import { openMemorySink } from "../core/formats/memorySink";
import { parseModelFile } from "../core/formats/parseModelFile";
import { openExternalData } from "../core/formats/onnx/externalData";
import { readTensorBytes } from "../core/formats/onnx/readTensorBytes";
import { planOnnxRewrite } from "../core/formats/onnx/planOnnxRewrite";
import { cachedOnnxRecords } from "./anchorRecords";
import { writeOnnxRewrite } from "../core/formats/onnx/writeOnnxRewrite";
import { rewriteSafetensors } from "../core/formats/safetensors/rewriteSafetensors";
import { writeSafetensorsFrom } from "../core/formats/safetensors/writeSafetensorsFrom";
import { BASE_MODEL_INDEX, executeMerge, planMerge } from "../core/merge";
import type { MergePlan } from "../core/merge";
import { DTYPE_BYTES, type ModelFormat, type ParsedModel, type TensorInfo } from "../core/structure/types";
import { badInput } from "../core/errors";

export interface MergeModelRef {
  /** A local file (the anchor always is one: its bytes become the output's). */
  file?: string;
  name: string;
  /**
   * An artifact in a remote store, read tensor by tensor with byte-range requests instead of
   * downloading the file: its layout (tensor locations) was recorded when it was registered.
   */
  remote?: { sha256: string; layout: ParsedModel };
  /**
   * For a local file: its layout (tensor locations) as recorded when it was registered, so the
   * merge does not parse the file again. The bytes are content-addressed, so it still holds.
   */
  layout?: ParsedModel | null;
  /**
   * The layer index of each tensor and the layer count L as registered (a safetensors model may
   * have been given its layer order then); the anchor's schedule follows them.
   */
  layers?: { count: number; byName: Record<string, number> } | null;
  /** Each tensor's positional key as registered, for merges matched by position. */
  positionKeys?: Record<string, string | null> | null;
}

/** Where remote artifacts live (the merging thread builds its own client from this and the environment). */
export interface RemoteStoreSettings {
  artifacts: string;
  dataDir: string;
  /** The parent's S3_* / AWS_* / LAYERMERGE_CACHE_BYTES variables. */
  env: Record<string, string | undefined>;
}

export interface RunMergePayload {
  anchor: MergeModelRef;
  contributors: MergeModelRef[];
  base?: MergeModelRef | null;
  recipe: { method: string; schedule: { kind?: string; cutoff?: number | null; knots?: number[] | null; groups?: Array<{ prefix: string; knots: number[] }> }; weights: number[] | null; params: Record<string, number>; matching?: "NAME" | "POSITION" };
  /**
   * Where the output goes; null: into memory, returned as `RunMergeResult.bytes` (a merge
   * search's candidate, which onnxruntime reads from memory and nothing keeps).
   */
  outFile: string | null;
  /** The output is scratch, read back at once and removed (a merge search's candidate): not fsynced. */
  scratch?: boolean;
  /** Hash the output while writing it (`RunMergeResult.sha256`), so the store need not read it back. */
  hash?: boolean;
  /** Recorded in the output (ONNX metadata_props / safetensors __metadata__). */
  metadata: Record<string, string>;
  remoteStore?: RemoteStoreSettings | null;
}

export interface RunMergeResult {
  /** A checkpoint's merge is written as safetensors (pickle is never written). */
  format: Exclude<ModelFormat, "pytorch">;
  outputBytes: number;
  layers: MergePlan["layers"];
  meanWeights: number[];
  mergedCount: number;
  copiedCount: number;
  inputBytes: number;
  /** The output's sha256, when the payload asked for `hash`. */
  sha256?: string;
  /** The output itself, when the payload's `outFile` is null. */
  bytes?: Uint8Array;
}

interface OpenModel {
  parsed: ParsedModel;
  /** Headers, copied tensors and the rewriter's copies. */
  source: FileByteSource;
  /** Positional reads of tensor data straight into the merge's buffers. */
  fd: number;
  external?: ReturnType<typeof openExternalData>;
  /** Set for remote inputs (then `source` and `fd` are unused). */
  remote?: { sha256: string };
}

/** The model with the layer indices it was registered with. */
function withLayers(parsed: ParsedModel, layers: MergeModelRef["layers"]): ParsedModel {
  if (!layers) return parsed;
  return {
    ...parsed,
    layerCount: layers.count,
    tensors: parsed.tensors.map((t) => {
      const layerIndex = layers.byName[t.name];
      return layerIndex === undefined || layerIndex === t.layerIndex ? t : { ...t, layerIndex };
    }),
  };
}

/** The model with the positional keys it was registered with (its recorded layout may predate them). */
function withPositionKeys(parsed: ParsedModel, keys: MergeModelRef["positionKeys"]): ParsedModel {
  if (!keys) return parsed;
  return { ...parsed, tensors: parsed.tensors.map((t) => ({ ...t, positionKey: keys[t.name] ?? undefined })) };
}

function open(ref: MergeModelRef): OpenModel {
  if (ref.remote) return { parsed: withPositionKeys(withLayers(ref.remote.layout, ref.layers), ref.positionKeys), source: null as unknown as FileByteSource, fd: -1, remote: { sha256: ref.remote.sha256 } };
  if (!ref.file) throw new Error(`merge input ${ref.name} has neither a file nor a remote layout`);
  const parsed = withPositionKeys(withLayers(ref.layout ?? parseModelFile(ref.file), ref.layers), ref.positionKeys);
  // A page-sized window: it serves the rewriter's header reads (a TensorProto header is ~100
  // bytes). A large one would read tensor data, replaced in the output anyway, for every header
  // between big tensors; reads longer than the window bypass it.
  const source = new FileByteSource(ref.file, 4 << 10);
  try {
    return { parsed, source, fd: fs.openSync(ref.file, "r") };
  } catch (error) {
    source.close();
    throw error;
  }
}

/**
 * Where a tensor's elements lie as contiguous little-endian bytes of its dtype in the model file:
 * raw_data, safetensors data, or one packed fixed-width typed field (float_data for F32,
 * double_data for F64), whose payload is the same bytes. Null for varint fields, unpacked
 * records and external data, which readTensorBytes decodes.
 */
export function contiguousOffset(tensor: TensorInfo): number | null {
  const loc = tensor.location;
  const width = DTYPE_BYTES[tensor.dtype];
  if (loc.kind === "raw") return loc.file === undefined ? loc.offset : null;
  const fixed = (loc.encoding === "fixed32" && width === 4) || (loc.encoding === "fixed64" && width === 8);
  if (!fixed || loc.ranges.length !== 1) return null;
  const range = loc.ranges[0];
  return range.packed && range.length === loc.count * width ? range.offset : null;
}

/**
 * Below this a read is a synchronous pread, which covers every chunk read of a merge (512 KiB of
 * float32 at the default chunk). Sending them to libuv's pool instead, to overlap this thread's
 * arithmetic, was slower in bench:merge (fp32, N = 4: 1.77× the I/O floor against 1.25× with
 * synchronous reads on the 2-core machine): a round trip per chunk costs more than copying it
 * from the page cache, and the other core is busy writing the output. Larger reads (whole
 * tensors that cannot be chunked) still go to the pool.
 */
const SYNC_READ_BYTES = 8 << 20;

function readAt(fd: number, into: Uint8Array, position: number, file: string): Promise<void> {
  if (into.byteLength < SYNC_READ_BYTES) {
    for (let done = 0; done < into.byteLength; ) {
      const n = fs.readSync(fd, into, done, into.byteLength - done, position + done);
      if (n === 0) return Promise.reject(badInput(`${file} ended before byte ${position + into.byteLength}; was it changed during the merge?`));
      done += n;
    }
    return Promise.resolve();
  }
  return new Promise((resolve, reject) => {
    const step = (done: number) => {
      if (done === into.byteLength) return resolve();
      fs.read(fd, into, done, into.byteLength - done, position + done, (error, n) => {
        if (error) return reject(error);
        if (n === 0) return reject(badInput(`${file} ended before byte ${position + into.byteLength}; was it changed during the merge?`));
        step(done + n);
      });
    };
    step(0);
  });
}


/** Progress crosses a thread boundary; a few updates a second are plenty for a progress bar. */
const PROGRESS_INTERVAL_MS = 100;

/**
 * One merge, start to finish, in a pool thread: parse every input, plan, then stream
 * the anchor's file to `outFile` with merged tensors computed one at a time. Memory is bounded
 * by the tensors in flight, not by the number or size of the models. `outputBuffer`: memory for
 * an in-memory output (outFile null) that the caller reuses; the result's `bytes` are then a view
 * of it, valid until the caller writes there again.
 */
export async function runMerge(payload: RunMergePayload, onProgress: (p: { fraction: number; message: string }) => void, options: { outputBuffer?: Uint8Array } = {}): Promise<RunMergeResult> {
  const opened: OpenModel[] = [];
  const openTracked = (ref: MergeModelRef): OpenModel => {
    const m = open(ref);
    opened.push(m);
    return m;
  };
  let store: ArtifactStore | null = null;
  const remote = (): ArtifactStore => {
    if (!payload.remoteStore) throw new Error("a remote merge input needs remoteStore settings");
    store ??= createArtifactStore({ artifacts: payload.remoteStore.artifacts, dataDir: payload.remoteStore.dataDir }, { ...process.env, ...payload.remoteStore.env });
    return store;
  };
  try {
    if (payload.anchor.remote) throw new Error("the anchor must be a local file");
    const anchor = openTracked(payload.anchor);
    const contributors = payload.contributors.map(openTracked);
    const base = payload.base ? openTracked(payload.base) : null;
    const all = [anchor, ...contributors];
    const plan = planMerge({
      anchor: anchor.parsed,
      contributors: contributors.map((c) => c.parsed),
      base: base?.parsed ?? null,
      method: payload.recipe.method,
      schedule: payload.recipe.schedule,
      weights: payload.recipe.weights,
      params: payload.recipe.params,
      matching: payload.recipe.matching ?? "NAME",
      names: { anchor: payload.anchor.name, contributors: payload.contributors.map((c) => c.name), base: payload.base?.name },
    });
    const model = (index: number) => (index === BASE_MODEL_INDEX ? base! : all[index]);
    const merged = new Set(plan.tensors.filter((t) => t.action === "merge").map((t) => t.tensor.name));
    const rewrite = anchor.parsed.format === "onnx" ? planOnnxRewrite(anchor.source, anchor.parsed, merged, payload.metadata, { openExternal: anchor.external, records: anchor.fd < 0 ? undefined : cachedOnnxRecords(anchor.source, anchor.fd) }) : null;
    // The writers ask for merged tensors in output order: ONNX in its rewrite sites' order,
    // safetensors by data offset, a checkpoint's safetensors in its tensor order.
    const requestOrder = rewrite
      ? rewrite.sites.map((site) => site.tensor.name).filter((name) => merged.has(name))
      : anchor.parsed.format === "pytorch"
        ? anchor.parsed.tensors.filter((t) => merged.has(t.name)).map((t) => t.name)
        : anchor.parsed.tensors
          .filter((t) => merged.has(t.name) && t.location.kind === "raw")
          .sort((a, b) => (a.location as { offset: number }).offset - (b.location as { offset: number }).offset)
          .map((t) => t.name);
    let lastProgress = 0;
    const run = executeMerge(
      plan,
      {
        async readTensor(index, tensor) {
          const m = model(index);
          if (m.remote) return readRemoteTensor(remote(), m.remote.sha256, tensor);
          return readTensorBytes(m.source, tensor, m.external);
        },
        rangeReader(index, tensor) {
          const m = model(index);
          const offset = contiguousOffset(tensor);
          if (offset === null) return null;
          const width = DTYPE_BYTES[tensor.dtype];
          if (m.remote) {
            const sha256 = m.remote.sha256;
            return async (start, count, into) => {
              const bytes = await readRange(remote(), sha256, offset + start * width, count * width);
              into.set(bytes, 0);
            };
          }
          return (start, count, into) => readAt(m.fd, into.subarray(0, count * width), offset + start * width, m.source.path);
        },
      },
      {
        onProgress: (fraction, message) => {
          const now = Date.now();
          if (fraction < 1 && now - lastProgress < PROGRESS_INTERVAL_MS) return;
          lastProgress = now;
          onProgress({ fraction, message });
        },
        requestOrder,
      },
    );
    const byName = new Map<string, TensorInfo>(anchor.parsed.tensors.map((t) => [t.name, t]));
    // Written merged tensors go back to the executor, whose next tensors reuse their memory.
    const onReleased = (chunk: Uint8Array) => run.recycle(chunk);
    if (payload.outFile === null && payload.hash) throw new Error("an in-memory merge output is not hashed");
    const sink =
      payload.outFile === null
        ? openMemorySink(rewrite?.outputSize ?? anchor.source.size, { onReleased, buffer: options.outputBuffer })
        : await openFileSink(payload.outFile, undefined, { onReleased, maxPendingBytes: 4 << 20, sync: !payload.scratch, sha256: payload.hash ?? false });
    const anchorTensor = (name: string) => {
      const t = byName.get(name);
      if (!t) throw badInput(`the anchor lists no tensor ${JSON.stringify(name)}`);
      return t;
    };
    try {
      if (rewrite) {
        await writeOnnxRewrite(rewrite, (t) => run.getMergedTensorBytes(t), sink, { getTensorChunks: (t) => run.mergedTensorChunks(t) });
      } else if (anchor.parsed.format === "pytorch") {
        // A checkpoint's merge is written as safetensors, in the state dict's order, with the
        // checkpoint's `meta` beside the recipe (pickle is never written).
        await writeSafetensorsFrom(
          anchor.source,
          anchor.parsed.tensors,
          {
            replace: merged,
            getTensorBytes: (ref) => run.getMergedTensorBytes(anchorTensor(ref.name)),
            getTensorChunks: (ref) => run.mergedTensorChunks(anchorTensor(ref.name)),
            metadata: checkpointOutputMetadata(anchor.parsed, payload.metadata),
          },
          sink,
        );
      } else {
        await rewriteSafetensors(
          anchor.source,
          {
            replace: merged,
            getTensorBytes: (ref) => run.getMergedTensorBytes(anchorTensor(ref.name)),
            getTensorChunks: (ref) => run.mergedTensorChunks(anchorTensor(ref.name)),
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
    } finally {
      // The sink has written or dropped every piece: the working memory can serve the next merge.
      run.dispose();
    }
    return {
      format: anchor.parsed.format === "pytorch" ? "safetensors" : anchor.parsed.format,
      outputBytes: sink.bytesWritten,
      layers: plan.layers,
      meanWeights: plan.meanWeights,
      mergedCount: plan.mergedCount,
      copiedCount: plan.copiedCount,
      inputBytes: plan.inputBytes,
      ...(payload.hash && "sha256" in sink ? { sha256: sink.sha256 } : {}),
      ...("bytes" in sink ? { bytes: sink.bytes } : {}),
    };
  } finally {
    // Also when a later input fails to parse: the ones opened before it are closed.
    for (const m of opened) {
      if (m.remote) continue;
      m.source.close();
      fs.closeSync(m.fd);
      m.external?.close();
    }
  }
}

/** The merge record plus the anchor checkpoint's `meta` (as JSON text), for a checkpoint's safetensors output. */
function checkpointOutputMetadata(parsed: ParsedModel, metadata: Record<string, string>): Record<string, string> {
  const meta = (parsed.metadata as { checkpointMeta?: unknown }).checkpointMeta;
  return meta === undefined ? metadata : { ...metadata, "layermerge.checkpoint_meta": JSON.stringify(meta) };
}

/** Bytes [offset, offset + length) of a stored artifact, by one ranged read. */
async function readRange(store: ArtifactStore, sha256: string, offset: number, length: number): Promise<Uint8Array> {
  if (length === 0) return new Uint8Array(0);
  const stream = await store.read(sha256, { start: offset, end: offset + length - 1 });
  const out = new Uint8Array(length);
  let at = 0;
  for await (const chunk of stream as AsyncIterable<Uint8Array>) {
    if (at + chunk.byteLength > length) throw badInput(`artifact ${sha256} returned more bytes than asked for at ${offset}`);
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  if (at !== length) throw badInput(`artifact ${sha256} ended before byte ${offset + length}; is its recorded layout stale?`);
  return out;
}

/** One tensor of a remote artifact: the byte range covering its data, decoded as from a file. */
async function readRemoteTensor(store: ArtifactStore, sha256: string, tensor: TensorInfo): Promise<Uint8Array> {
  const loc = tensor.location;
  let start: number;
  let end: number;
  if (loc.kind === "raw") {
    if (loc.file) throw badInput(`tensor ${tensor.name} uses external data, which a stored artifact cannot have`);
    start = loc.offset;
    end = loc.offset + loc.length;
  } else {
    start = Math.min(...loc.ranges.map((r) => r.offset));
    end = Math.max(...loc.ranges.map((r) => r.offset + r.length));
  }
  const bytes = await readRange(store, sha256, start, end - start);
  // A ByteSource that answers the covered window at its original offsets.
  const window: ByteSource = {
    size: end,
    read(offset, length) {
      if (offset < start || offset + length > end) throw new RangeError(`read of ${length} bytes at ${offset} leaves the fetched range ${start}–${end}`);
      return bytes.subarray(offset - start, offset - start + length);
    },
  };
  return readTensorBytes(window, tensor);
}
