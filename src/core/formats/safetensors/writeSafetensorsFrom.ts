import { badInput, invariant } from "../../errors";
import type { TensorInfo } from "../../structure/types";
import type { ByteSource } from "../byteSource";
import type { ByteSink, RewriteSafetensorsOptions, SafetensorsTensorRef } from "./rewriteSafetensors";

export type WriteSafetensorsFromOptions = Pick<RewriteSafetensorsOptions, "replace" | "getTensorBytes" | "getTensorChunks" | "metadata" | "chunkBytes">;

const DEFAULT_CHUNK_BYTES = 8 << 20;

/** Header entries as text in the given order (JSON.stringify of an object would move integer-like names first). */
function headerText(tensors: readonly TensorInfo[], metadata: Readonly<Record<string, string>> | undefined): Buffer {
  const parts: string[] = [];
  if (metadata && Object.keys(metadata).length > 0) {
    parts.push(`"__metadata__":{${Object.entries(metadata).map(([k, v]) => {
      if (typeof v !== "string") throw badInput(`merge metadata ${JSON.stringify(k)} must be a string`);
      return `${JSON.stringify(k)}:${JSON.stringify(v)}`;
    }).join(",")}}`);
  }
  let offset = 0;
  for (const t of tensors) {
    const length = (t.location as { length: number }).length;
    parts.push(`${JSON.stringify(t.name)}:{"dtype":${JSON.stringify(t.dtype)},"shape":[${t.shape.join(",")}],"data_offsets":[${offset},${offset + length}]}`);
    offset += length;
  }
  const text = Buffer.from(`{${parts.join(",")}}`, "utf8");
  // Padded with spaces to a multiple of 8 (the spec allows it): tensor data stays aligned.
  const padded = Buffer.alloc(Math.ceil(text.byteLength / 8) * 8, 0x20);
  text.copy(padded);
  return padded;
}

/**
 * Writes a new safetensors file holding `tensors` in the given order, contiguous: the merge
 * output of a model whose own format is not written (a PyTorch checkpoint: pickle is never
 * written). Each tensor's bytes come from the replacement callbacks when it is replaced, else
 * from `source` at its raw location. Nothing larger than a copy chunk or one merged piece is held.
 */
export async function writeSafetensorsFrom(source: ByteSource, tensors: readonly TensorInfo[], options: WriteSafetensorsFromOptions, sink: ByteSink): Promise<{ bytesWritten: number }> {
  for (const t of tensors) {
    if (t.location.kind !== "raw" || t.location.file !== undefined) throw badInput(`tensor ${JSON.stringify(t.name)} is not one byte range of the file and cannot be copied into safetensors`);
  }
  const replace = new Set(options.replace);
  const names = new Set(tensors.map((t) => t.name));
  for (const name of replace) if (!names.has(name)) throw badInput(`cannot replace tensor ${JSON.stringify(name)}: the anchor has no such tensor`);
  const chunkBytes = Math.max(1, options.chunkBytes ?? DEFAULT_CHUNK_BYTES);
  const header = headerText(tensors, options.metadata);
  const lengthField = new Uint8Array(8);
  new DataView(lengthField.buffer).setBigUint64(0, BigInt(header.byteLength), true);
  await sink.write(lengthField);
  await sink.write(header);
  let written = 8 + header.byteLength;
  for (const t of tensors) {
    const loc = t.location as { offset: number; length: number };
    if (replace.has(t.name)) {
      const ref: SafetensorsTensorRef = { name: t.name, dtype: t.dtype, shape: t.shape, elements: t.elements, location: t.location };
      const pieces = options.getTensorChunks ? options.getTensorChunks(ref) : [await options.getTensorBytes(ref)];
      let length = 0;
      for await (const bytes of pieces) {
        length += bytes.byteLength;
        invariant(length <= loc.length, `replacement for tensor ${JSON.stringify(t.name)} has more than ${loc.length} bytes, the anchor's size`);
        await sink.write(bytes);
      }
      invariant(length === loc.length, `replacement for tensor ${JSON.stringify(t.name)} has ${length} bytes, the anchor's has ${loc.length}`);
    } else {
      for (let at = 0; at < loc.length; at += chunkBytes) {
        await sink.write(source.read(loc.offset + at, Math.min(chunkBytes, loc.length - at)));
      }
    }
    written += loc.length;
  }
  return { bytesWritten: written };
}
