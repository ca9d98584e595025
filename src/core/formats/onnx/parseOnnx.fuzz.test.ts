import { DomainError } from "../../errors";
import { DTYPE_BYTES } from "../../structure/types";
import { bufferSource } from "../byteSource";
import { ProtoReader } from "../protobuf/protoReader";
import { encodeVarint } from "../protobuf/protoWriter";
import { parseOnnx } from "./parseOnnx";
import { readTensorBytes } from "./readTensorBytes";
import { buildSegNet, type SegNetOptions } from "./testing/buildSegNet";
import { prng } from "../../testing/prng";

/**
 * Issue 3 item 8: mutated models (bit flips, truncations, length-field edits, byte splices) are
 * accepted or rejected with a DomainError — never another error, never a hang — within 1 s, and
 * whatever is accepted parses again to the same structure and reads back every tensor.
 */

const MUTATIONS_PER_SEED = 500;
const seeds: SegNetOptions[] = [
  {},
  { dtype: "F16", encoding: "typed" },
  { constants: "constant", encoding: "typed-unpacked" },
  { quantized: true, heads: "B", nodeOrder: "unsorted" },
  { dtype: "F16", constants: "constant", generatedNames: true },
];

/** Length prefixes of every length-delimited field that itself parses as a message, recursively. */
function lengthPrefixes(bytes: Uint8Array): Array<{ start: number; end: number; value: number }> {
  const source = bufferSource(bytes);
  const out: Array<{ start: number; end: number; value: number }> = [];
  const walk = (start: number, end: number, depth: number) => {
    if (depth > 6) return;
    const r = new ProtoReader(source, start, end, "m");
    try {
      for (let f = r.next(); f; f = r.next()) {
        if (f.wireType !== 2) continue;
        out.push({ start: f.prefixOffset, end: f.offset, value: f.length });
        walk(f.offset, f.end, depth + 1);
      }
    } catch {
      // a string or raw payload, not a message
    }
  };
  walk(0, bytes.length, 0);
  return out;
}

function mutate(original: Uint8Array, random: () => number, prefixes: ReturnType<typeof lengthPrefixes>): { bytes: Uint8Array; how: string } {
  const pick = (n: number) => Math.floor(random() * n);
  const kind = pick(5);
  if (kind === 0) {
    const bytes = original.slice();
    const flips = 1 + pick(8);
    for (let i = 0; i < flips; i++) bytes[pick(bytes.length)] ^= 1 << pick(8);
    return { bytes, how: `${flips} bit flips` };
  }
  if (kind === 1) {
    const at = pick(original.length);
    return { bytes: original.slice(0, at), how: `truncated at ${at}` };
  }
  if (kind === 2 || kind === 3) {
    const p = prefixes[pick(prefixes.length)];
    const choices = [0, 1, p.value - 1, p.value + 1, p.value * 2, 127, 128, 2 ** 31, 2 ** 53 - 1, -1];
    const value = choices[pick(choices.length)];
    const encoded = value < 0 ? encodeVarint(-1) : encodeVarint(Math.max(0, value));
    const bytes = new Uint8Array(original.length - (p.end - p.start) + encoded.length);
    bytes.set(original.subarray(0, p.start));
    bytes.set(encoded, p.start);
    bytes.set(original.subarray(p.end), p.start + encoded.length);
    return { bytes, how: `length at ${p.start}: ${p.value} → ${value}` };
  }
  const at = pick(original.length);
  const len = 1 + pick(16);
  if (random() < 0.5) {
    const bytes = new Uint8Array(original.length + len);
    bytes.set(original.subarray(0, at));
    for (let i = 0; i < len; i++) bytes[at + i] = pick(256);
    bytes.set(original.subarray(at), at + len);
    return { bytes, how: `${len} random bytes inserted at ${at}` };
  }
  const bytes = new Uint8Array(Math.max(0, original.length - len));
  bytes.set(original.subarray(0, at));
  bytes.set(original.subarray(Math.min(original.length, at + len)).subarray(0, bytes.length - at), at);
  return { bytes, how: `${len} bytes deleted at ${at}` };
}

describe("parseOnnx fuzz", () => {
  it(`survives ${seeds.length * MUTATIONS_PER_SEED} mutations of writer-made models`, () => {
    const random = prng(20240915);
    const outcomes = { accepted: 0, rejected: 0 };
    let slowest = 0;
    for (const options of seeds) {
      const original = buildSegNet(options).bytes;
      const prefixes = lengthPrefixes(original);
      expect(prefixes.length).toBeGreaterThan(20);
      for (let i = 0; i < MUTATIONS_PER_SEED; i++) {
        const { bytes, how } = mutate(original, random, prefixes);
        const context = `seed ${JSON.stringify(options)} mutation ${i} (${how})`;
        const started = performance.now();
        let parsed: ReturnType<typeof parseOnnx> | undefined;
        try {
          parsed = parseOnnx(bufferSource(bytes));
        } catch (e) {
          if (!(e instanceof DomainError)) throw new Error(`${context}: threw ${(e as Error)?.stack ?? e}`);
          expect(e.code).toBe("BAD_USER_INPUT");
        }
        const elapsed = performance.now() - started;
        slowest = Math.max(slowest, elapsed);
        if (elapsed > 1000) throw new Error(`${context}: took ${elapsed} ms`);
        if (!parsed) {
          outcomes.rejected++;
          continue;
        }
        outcomes.accepted++;
        expect(parseOnnx(bufferSource(bytes))).toEqual(parsed);
        for (const t of parsed.tensors) {
          try {
            const data = readTensorBytes(bufferSource(bytes), t);
            const width = t.location.kind === "typed" && t.location.encoding !== "varint" ? (t.location.encoding === "fixed32" ? 4 : 8) : DTYPE_BYTES[t.dtype];
            if (t.location.kind === "typed") expect(data.length).toBe(t.location.count * width);
            else expect(data.length).toBe(t.location.length);
          } catch (e) {
            if (!(e instanceof DomainError)) throw new Error(`${context}: reading "${t.name}" threw ${(e as Error)?.stack ?? e}`);
          }
        }
      }
    }
    // The mutations must exercise both paths, or the test proves little.
    expect(outcomes.rejected).toBeGreaterThan(500);
    expect(outcomes.accepted).toBeGreaterThan(100);
    expect(slowest).toBeLessThan(1000);
  });
});
