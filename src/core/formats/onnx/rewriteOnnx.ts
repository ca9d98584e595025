import type { ParsedModel, TensorInfo } from "../../structure/types";
import type { ByteSource } from "../byteSource";
import { planOnnxRewrite } from "./planOnnxRewrite";
import { type ByteSink, writeOnnxRewrite, type WriteOnnxRewriteOptions } from "./writeOnnxRewrite";

/**
 * Plan and write in one call: the anchor's file with the named tensors' data
 * replaced by `getTensorBytes` and `extraMetadata` added as metadata_props. Use planOnnxRewrite
 * separately to learn the output size before writing.
 *
 * @returns the number of bytes written to `sink`
 */
export async function rewriteOnnx(
  source: ByteSource,
  parsed: ParsedModel,
  replacedNames: ReadonlySet<string>,
  extraMetadata: Readonly<Record<string, string>>,
  getTensorBytes: (tensor: TensorInfo) => Promise<Uint8Array>,
  sink: ByteSink,
  options: WriteOnnxRewriteOptions & { openExternal?: (relativePath: string) => ByteSource } = {},
): Promise<number> {
  const plan = planOnnxRewrite(source, parsed, replacedNames, extraMetadata, { openExternal: options.openExternal });
  return writeOnnxRewrite(plan, getTensorBytes, sink, options);
}
