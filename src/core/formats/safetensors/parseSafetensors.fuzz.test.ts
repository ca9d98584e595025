import * as fs from "node:fs";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { DomainError } from "../../errors";
import { bufferSource } from "../byteSource";
import { parseSafetensors } from "./parseSafetensors";
import { rewriteSafetensors } from "./rewriteSafetensors";
import { assembleSafetensors, writeSafetensors } from "./testing/writeSafetensors";
import { prng as rng } from "../../testing/prng";

const bases: Uint8Array[] = [
  writeSafetensors([
    { name: "backbone.stem.weight", dtype: "F32", shape: [4, 3, 3, 3] },
    { name: "backbone.stem.bias", dtype: "F32", shape: [4] },
    { name: "backbone.blocks.2.bn.num_batches_tracked", dtype: "I64", shape: [] },
    { name: "backbone.blocks.10.w", dtype: "BF16", shape: [4, 4] },
    { name: "head.w", dtype: "F16", shape: [2, 4] },
    { name: "head.e", dtype: "F64", shape: [0] },
    { name: "7", dtype: "U8", shape: [3] },
  ], { metadata: { format: "pt", "ünïcode": "✓" }, gapBytes: 2 }),
  fs.readFileSync(path.join(__dirname, "testing", "fixtures", "official_sorted.safetensors")),
];

const DTYPES = ["F32", "F16", "BF16", "F64", "I64", "I8", "U8", "BOOL", "F8_E4M3", "C64", "F4", "X"];
const JSON_CHARS = "{}[]\",:0123456789-.eE aZ_";

function headerParts(bytes: Uint8Array): { n: number; text: string; data: Uint8Array } | undefined {
  if (bytes.byteLength < 8) return undefined;
  const n = Number(Buffer.from(bytes).readBigUInt64LE(0));
  if (n > bytes.byteLength - 8) return undefined;
  return { n, text: Buffer.from(bytes.subarray(8, 8 + n)).toString("latin1"), data: bytes.subarray(8 + n) };
}

function mutate(base: Uint8Array, random: () => number): Uint8Array {
  const int = (n: number) => Math.floor(random() * n);
  const bytes = Uint8Array.from(base);
  const n = Number(Buffer.from(base).readBigUInt64LE(0));
  switch (int(6)) {
    case 0: { // bit flips, mostly in the header where they matter
      const flips = 1 + int(4);
      for (let k = 0; k < flips; k++) {
        const at = random() < 0.8 ? int(8 + n) : int(bytes.byteLength);
        bytes[at]! ^= 1 << int(8);
      }
      return bytes;
    }
    case 1: // truncation
      return bytes.subarray(0, int(bytes.byteLength));
    case 2: { // header-length edits: near misses, random and huge values
      const view = new DataView(bytes.buffer);
      const choice = int(4);
      const value = choice === 0 ? BigInt(Math.max(0, n + int(33) - 16))
        : choice === 1 ? BigInt(int(2 ** 32))
          : choice === 2 ? BigInt(bytes.byteLength - 8 + int(3))
            : (1n << BigInt(32 + int(32))) + BigInt(int(1000));
      view.setBigUint64(0, value & ((1n << 64n) - 1n), true);
      return bytes;
    }
    case 3: { // JSON text edits with a consistent length field
      const parts = headerParts(bytes)!;
      let text = parts.text;
      const edits = 1 + int(3);
      for (let k = 0; k < edits; k++) {
        const at = int(text.length);
        const op = int(3);
        if (op === 0) text = text.slice(0, at) + text.slice(at + 1);
        else if (op === 1) text = text.slice(0, at) + JSON_CHARS[int(JSON_CHARS.length)] + text.slice(at);
        else text = text.slice(0, at) + JSON_CHARS[int(JSON_CHARS.length)] + text.slice(at + 1);
      }
      return assembleSafetensors(text, parts.data, random() < 0.5);
    }
    case 4: { // semantic JSON edits: numbers and dtypes changed, still valid JSON
      const parts = headerParts(bytes)!;
      let text = parts.text;
      const numbers = [...text.matchAll(/[0-9]+/g)];
      if (numbers.length > 0 && random() < 0.6) {
        const m = numbers[int(numbers.length)]!;
        const replacement = String([0, 1, 2, 3, 4, 8, 16, 2 ** 31, 2 ** 53 + 2, Number(m[0]) + 1, Number(m[0]) - 1][int(11)]);
        text = text.slice(0, m.index) + replacement + text.slice(m.index! + m[0].length);
      } else {
        const dtypes = [...text.matchAll(/"dtype":"([A-Z0-9_]+)"/g)];
        const m = dtypes[int(dtypes.length)]!;
        text = text.slice(0, m.index) + `"dtype":"${DTYPES[int(DTYPES.length)]}"` + text.slice(m.index! + m[0].length);
      }
      return assembleSafetensors(text, parts.data);
    }
    default: { // data section grown or shrunk
      const extra = int(64) - 32;
      if (extra < 0) return bytes.subarray(0, Math.max(0, bytes.byteLength + extra));
      const out = new Uint8Array(bytes.byteLength + extra);
      out.set(bytes);
      for (let k = bytes.byteLength; k < out.byteLength; k++) out[k] = int(256);
      return out;
    }
  }
}

describe("parseSafetensors under fuzzing", () => {
  it("accepts or rejects 2,400 mutated files within 1 s each, and what it accepts round-trips", async () => {
    const random = rng(0x5afe7e45);
    const failures: string[] = [];
    let accepted = 0;
    let rejected = 0;
    for (let k = 0; k < 2400; k++) {
      const input = mutate(bases[k % bases.length]!, random);
      const started = performance.now();
      let model;
      try {
        model = parseSafetensors(bufferSource(input));
      } catch (error) {
        if (!(error instanceof DomainError) || error.code !== "BAD_USER_INPUT") failures.push(`#${k}: ${String(error)}`);
        rejected++;
      }
      const elapsed = performance.now() - started;
      if (elapsed > 1000) failures.push(`#${k}: took ${elapsed.toFixed(0)} ms`);
      if (model === undefined) continue;
      accepted++;
      expect(parseSafetensors(bufferSource(input))).toEqual(model);
      const chunks: Uint8Array[] = [];
      await rewriteSafetensors(bufferSource(input), { replace: [], getTensorBytes: async () => new Uint8Array() }, {
        async write(chunk) { chunks.push(Uint8Array.from(chunk)); },
      });
      const rewritten = Buffer.concat(chunks);
      if (!rewritten.equals(Buffer.from(input))) failures.push(`#${k}: rewrite changed the bytes`);
      expect(parseSafetensors(bufferSource(rewritten))).toEqual(model);
    }
    expect(failures).toEqual([]);
    // The mutations must exercise both paths, or the test proves little.
    expect(accepted).toBeGreaterThan(100);
    expect(rejected).toBeGreaterThan(1000);
  });
});
