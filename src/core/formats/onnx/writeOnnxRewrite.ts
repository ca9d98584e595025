import { badInput, invariant } from "../../errors";
import { DTYPE_BYTES, type TensorInfo } from "../../structure/types";
import { ProtoReader } from "../protobuf/protoReader";
import { encodeVarint, ProtoWriter, WIRE_LEN } from "../protobuf/protoWriter";
import type { OnnxTensorRecord, TypedRange } from "./onnxModelRecord";
import type { OnnxRewritePlan, RewriteSite } from "./planOnnxRewrite";
import { readTensorBytes } from "./readTensorBytes";
import { prefixEdits } from "./rewriteLayout";

export interface ByteSink {
  /**
   * Takes the next bytes. The sink may still be reading `chunk` after this resolves (openFileSink
   * writes in the background), so chunks handed to it are never modified afterwards.
   */
  write(chunk: Uint8Array): Promise<void>;
}

export interface WriteOnnxRewriteOptions {
  /**
   * Optional: the same bytes as `getTensorBytes`, in pieces. Used for tensors whose data is one
   * contiguous run in the file (raw_data, or one packed fixed-width field), so a large tensor
   * never has to exist in one buffer; other sites still call `getTensorBytes`.
   */
  getTensorChunks?: (tensor: TensorInfo) => AsyncIterable<Uint8Array>;
  /**
   * Re-encoded varint tensors are computed once to size the file and again to write it, unless
   * their encodings fit in this cache (default 64 MiB), which bounds memory either way.
   */
  varintCacheBytes?: number;
}

/** Unchanged bytes are copied in chunks this large: few syscalls, bounded memory. */
const COPY_CHUNK = 4 << 20;

interface Edit {
  start: number;
  end: number;
  render: () => Promise<Uint8Array[]> | AsyncIterable<Uint8Array>;
}

/**
 * Streams the planned output to `sink`: unchanged byte ranges are copied in
 * large chunks; same-length data is written in place; varint typed data is re-encoded and every
 * enclosing length prefix rewritten, sizes planned first so the file is written in one pass.
 *
 * @param getTensorBytes little-endian bytes of the tensor's dtype, elements × width, for each
 *   replaced tensor; called in file order, and twice for varint tensors beyond the cache
 * @returns the number of bytes written
 */
export async function writeOnnxRewrite(
  plan: OnnxRewritePlan,
  getTensorBytes: (tensor: TensorInfo) => Promise<Uint8Array>,
  sink: ByteSink,
  options: WriteOnnxRewriteOptions = {},
): Promise<number> {
  const fetch = async (tensor: TensorInfo): Promise<Uint8Array> => {
    const bytes = await getTensorBytes(tensor);
    const expected = expectedBytes(tensor);
    if (bytes.length !== expected) throw badInput(`replacement data for tensor "${tensor.name}" has ${bytes.length} bytes; ${tensor.dtype} [${tensor.shape.join(", ")}] needs ${expected}`);
    return bytes;
  };

  // 1. Size the varint re-encodings (their length depends on the values).
  let cacheLeft = options.varintCacheBytes ?? 64 << 20;
  const varintCache = new Map<RewriteSite, Uint8Array[][]>();
  const changes: Array<{ record: OnnxTensorRecord; delta: number }> = [];
  for (const site of plan.sites) {
    if (site.kind === "varint") {
      const pieces = encodeVarintSite(plan, site, await fetch(site.tensor));
      const size = pieces.reduce((s, p) => s + total(p), 0);
      const old = varintRanges(site).reduce((s, r) => s + r.offset + r.length - (r.packed ? r.prefixOffset : r.offset), 0);
      changes.push({ record: site.record, delta: size - old });
      if (size <= cacheLeft) {
        varintCache.set(site, pieces);
        cacheLeft -= size;
      }
    } else if (site.kind === "inline-external") {
      const length = expectedBytes(site.tensor);
      const removed = site.remove.reduce((s, r) => s + r.end - r.start, 0);
      changes.push({ record: site.record, delta: rawFieldHeader(length).length + length - removed });
    }
  }

  // 2. Every edit, in file order.
  const edits: Edit[] = [];
  for (const e of prefixEdits(changes).edits) edits.push({ start: e.start, end: e.end, render: async () => [e.bytes] });
  for (const r of plan.removedMetadata) edits.push({ start: r.start, end: r.end, render: async () => [] });
  const stream = options.getTensorChunks;
  for (const site of plan.sites) {
    const run = stream && contiguousRun(site);
    if (run) edits.push({ ...run, render: () => checkedChunks(stream(site.tensor), site.tensor) });
    else edits.push(...siteEdits(plan, site, fetch, varintCache));
  }
  edits.sort((a, b) => a.start - b.start || a.end - b.end);

  // 3. Stream.
  const out = new RewriteOutput(plan.source, sink);
  for (const edit of edits) {
    invariant(edit.start >= out.pos, `rewrite edits overlap at byte ${edit.start}`);
    await out.copyTo(edit.start);
    const rendered = edit.render();
    if (Symbol.asyncIterator in rendered) for await (const chunk of rendered) await out.emit(chunk);
    else for (const chunk of await rendered) await out.emit(chunk);
    out.pos = edit.end;
  }
  await out.copyTo(plan.source.size);
  for (const [key, value] of plan.metadata) {
    await out.emit(new ProtoWriter().messageField(14, (e) => e.stringField(1, key).stringField(2, value)).finish());
  }
  return out.written;
}

/**
 * The output side of a rewrite: where the copy of the source has got to and what was written. A
 * class rather than closures of each call, so its methods (called for every piece of every
 * merge's output) are optimized once per thread.
 */
class RewriteOutput {
  /** Source bytes before this are copied or replaced. */
  pos = 0;
  written = 0;

  constructor(
    private readonly source: OnnxRewritePlan["source"],
    private readonly sink: ByteSink,
  ) {}

  async emit(chunk: Uint8Array): Promise<void> {
    if (chunk.length === 0) return;
    await this.sink.write(chunk);
    this.written += chunk.length;
  }

  /** Copies the source's unchanged bytes up to `end`, in large chunks. */
  async copyTo(end: number): Promise<void> {
    while (this.pos < end) {
      const n = Math.min(COPY_CHUNK, end - this.pos);
      await this.emit(this.source.read(this.pos, n));
      this.pos += n;
    }
  }
}

/** The byte range of a replaced tensor whose new data is written as it is, in one run. */
function contiguousRun(site: RewriteSite): { start: number; end: number } | null {
  if (site.kind !== "in-place") return null;
  const d = site.record.data;
  if (d.kind === "raw") return { start: d.offset, end: d.offset + d.length };
  if (d.kind === "typed" && d.encoding !== "varint" && d.ranges.length === 1 && d.ranges[0].packed) {
    return { start: d.ranges[0].offset, end: d.ranges[0].offset + d.ranges[0].length };
  }
  return null;
}

/** Passes the pieces through and checks that together they are exactly the tensor's size. */
async function* checkedChunks(chunks: AsyncIterable<Uint8Array>, tensor: TensorInfo): AsyncGenerator<Uint8Array> {
  const expected = expectedBytes(tensor);
  let total = 0;
  for await (const chunk of chunks) {
    total += chunk.length;
    if (total > expected) break;
    yield chunk;
  }
  if (total !== expected) throw badInput(`replacement data for tensor "${tensor.name}" has ${total > expected ? "at least " : ""}${total} bytes; ${tensor.dtype} [${tensor.shape.join(", ")}] needs ${expected}`);
}

function siteEdits(
  plan: OnnxRewritePlan,
  site: RewriteSite,
  fetch: (t: TensorInfo) => Promise<Uint8Array>,
  varintCache: Map<RewriteSite, Uint8Array[][]>,
): Edit[] {
  // The tensor's bytes are fetched at its first edit that needs them and released after the last,
  // so memory holds one tensor at a time.
  let bytes: Promise<Uint8Array> | undefined;
  let uses = 0;
  const load = () =>
    site.kind === "inline-external" && !site.replaced ? Promise.resolve(readTensorBytes(plan.source, site.tensor, plan.openExternal)) : fetch(site.tensor);
  const edits: Edit[] = [];
  const fixed = (start: number, end: number, chunks: () => Uint8Array[]) => edits.push({ start, end, render: async () => chunks() });
  const fromData = (start: number, end: number, chunks: (data: Uint8Array) => Uint8Array[]) => {
    uses++;
    edits.push({
      start,
      end,
      render: async () => {
        bytes ??= load();
        const data = await bytes;
        if (--uses === 0) bytes = undefined;
        return chunks(data);
      },
    });
  };

  const d = site.record.data;
  if (site.kind === "inline-external") {
    for (const r of site.remove) fixed(r.start, r.end, () => []);
    const tensorProto = site.record.ancestry[site.record.ancestry.length - 1];
    const end = tensorProto.offset + tensorProto.length;
    fromData(end, end, (data) => [rawFieldHeader(data.length), data]);
  } else if (site.kind === "varint") {
    const cached = varintCache.get(site);
    varintRanges(site).forEach((r, i) => {
      const start = r.packed ? r.prefixOffset : r.offset;
      if (cached) fixed(start, r.offset + r.length, () => cached[i]);
      else fromData(start, r.offset + r.length, (data) => encodeVarintSite(plan, site, data)[i]);
    });
  } else if (d.kind === "raw") {
    fromData(d.offset, d.offset + d.length, (data) => [data]);
  } else {
    invariant(d.kind === "typed" && d.encoding !== "varint", `in-place site for "${site.tensor.name}" is not fixed-width`);
    const width = d.encoding === "fixed32" ? 4 : 8;
    let value = 0;
    for (const r of d.ranges) {
      const first = value;
      const count = r.packed ? r.length / width : countRecords(plan, r, width);
      value += count;
      fromData(r.offset, r.offset + r.length, (data) =>
        r.packed
          ? [data.subarray(first * width, (first + count) * width)]
          : [rewriteRecords(plan, r, (w, i) => w.raw(data.subarray((first + i) * width, (first + i + 1) * width)))],
      );
    }
  }
  return edits;
}

function varintRanges(site: RewriteSite): TypedRange[] {
  const d = site.record.data;
  invariant(d.kind === "typed", `tensor "${site.tensor.name}" is not typed`);
  return d.ranges;
}

/** One list of chunks per range: packed ranges get a new length prefix; unpacked keep their tags. */
function encodeVarintSite(plan: OnnxRewritePlan, site: RewriteSite, bytes: Uint8Array): Uint8Array[][] {
  const d = site.record.data;
  invariant(d.kind === "typed" && d.encoding === "varint", `tensor "${site.tensor.name}" is not varint-typed`);
  const values = varintValues(site.tensor, d.field, bytes);
  let next = 0;
  return d.ranges.map((r) => {
    if (r.packed) {
      const payload = encodePacked(values, next, r.count, site.tensor.dtype);
      next += r.count;
      return [encodeVarint(payload.length), payload];
    }
    return [rewriteRecords(plan, r, (w) => w.varint(values(next++)))];
  });
}

/** Element i of little-endian dtype bytes as the integer ONNX stores in the typed field. */
function varintValues(tensor: TensorInfo, field: string, bytes: Uint8Array): (i: number) => number | bigint {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (tensor.dtype) {
    case "F16":
    case "BF16":
    case "U16":
      return (i) => v.getUint16(i * 2, true);
    case "I16":
      return (i) => v.getInt16(i * 2, true);
    case "I8":
      return (i) => v.getInt8(i);
    case "U8":
    case "BOOL":
    case "F8_E4M3":
    case "F8_E5M2":
      return (i) => v.getUint8(i);
    case "I32":
      return (i) => v.getInt32(i * 4, true);
    case "U32":
      return (i) => v.getUint32(i * 4, true);
    case "I64":
      return (i) => v.getBigInt64(i * 8, true);
    case "U64":
      return (i) => v.getBigUint64(i * 8, true);
    default:
      throw badInput(`tensor "${tensor.name}" of dtype ${tensor.dtype} cannot be re-encoded into ${field}`);
  }
}

/** Re-emits a run of unpacked (tag, value) records with their original tags and new values. */
function rewriteRecords(plan: OnnxRewritePlan, r: TypedRange, value: (w: ProtoWriter, index: number) => void): Uint8Array {
  const reader = new ProtoReader(plan.source, r.offset, r.offset + r.length, "typed tensor field");
  const w = new ProtoWriter();
  for (let i = 0; ; i++) {
    const f = reader.next();
    if (!f) break;
    w.raw(plan.source.read(f.tagOffset, f.offset - f.tagOffset));
    value(w, i);
  }
  return w.finish();
}

function countRecords(plan: OnnxRewritePlan, r: TypedRange, width: number): number {
  const reader = new ProtoReader(plan.source, r.offset, r.offset + r.length, "typed tensor field");
  let n = 0;
  for (let f = reader.next(); f; f = reader.next()) {
    invariant(f.length === width, "typed record width changed since parsing");
    n++;
  }
  return n;
}

/**
 * Packed varints straight into one buffer: the hot loop of fp16 tensors stored as int32_data
 * (millions of values), so no per-value allocation. 16-bit and 8-bit unsigned values take at
 * most 3 bytes; anything that may be negative or 64-bit is allowed 10.
 */
function encodePacked(values: (i: number) => number | bigint, first: number, count: number, dtype: TensorInfo["dtype"]): Uint8Array {
  const small = ["F16", "BF16", "U16", "U8", "BOOL", "F8_E4M3", "F8_E5M2"].includes(dtype);
  const out = new Uint8Array(count * (small ? 3 : 10));
  let at = 0;
  for (let i = 0; i < count; i++) {
    const value = values(first + i);
    if (typeof value === "number" && value >= 0 && value < 0x80000000) {
      let v = value;
      while (v >= 0x80) {
        out[at++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      out[at++] = v;
    } else {
      const bytes = encodeVarint(value);
      out.set(bytes, at);
      at += bytes.length;
    }
  }
  return out.subarray(0, at);
}

function rawFieldHeader(length: number): Uint8Array {
  return new ProtoWriter().tag(9, WIRE_LEN).varint(length).finish();
}

function expectedBytes(tensor: TensorInfo): number {
  const loc = tensor.location;
  if (loc.kind === "raw") return loc.length;
  const width = loc.encoding === "fixed32" ? 4 : loc.encoding === "fixed64" ? 8 : DTYPE_BYTES[tensor.dtype];
  return loc.count * width;
}

function total(chunks: Uint8Array[]): number {
  return chunks.reduce((s, c) => s + c.length, 0);
}
