import { writeSafetensors } from "../../src/core/formats/safetensors/testing/writeSafetensors";

/** Helpers of the suites that drive real `layermerge` processes over HTTP. */

/** POSTs a GraphQL request and returns its data; GraphQL errors throw. `timeoutMs` bounds the wait. */
export async function gql(url: string, query: string, variables: Record<string, unknown> = {}, options: { timeoutMs?: number } = {}): Promise<any> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query, variables }),
    ...(options.timeoutMs ? { signal: AbortSignal.timeout(options.timeoutMs) } : {}),
  });
  const body = (await res.json()) as { data?: any; errors?: unknown[] };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

/**
 * A safetensors model of two tensors — `enc.weight` (`elements` floats, a hash pattern shifted by
 * `seed`) and `enc.bias` (8 × seed) — large enough, for big `elements`, that a merge of two takes
 * a moment.
 */
export function twoTensorModel(seed: number, elements: number): Uint8Array {
  const data = new Float32Array(elements);
  for (let i = 0; i < elements; i++) data[i] = ((((i * 2654435761) >>> 0) % 1000) + seed) / 1000;
  return writeSafetensors([
    { name: "enc.weight", dtype: "F32", shape: [elements], data: new Uint8Array(data.buffer) },
    { name: "enc.bias", dtype: "F32", shape: [8], data: new Uint8Array(new Float32Array(8).fill(seed).buffer) },
  ]);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
