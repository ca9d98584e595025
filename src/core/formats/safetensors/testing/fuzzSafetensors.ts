import * as fs from "node:fs";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { DomainError } from "../../../errors";
import { prng } from "../../../testing/prng";
import { type FuzzReport as BaseFuzzReport, SLOW_PARSE_MS } from "../../../testing/fuzzReport";
import { bufferSource } from "../../byteSource";
import { parseSafetensors } from "../parseSafetensors";
import { rewriteSafetensors } from "../rewriteSafetensors";
import { judgeSafetensors, type JudgedTensor } from "./judgeSafetensors";
import { assembleSafetensors, writeSafetensors } from "./writeSafetensors";

/**
 * Mutated safetensors files for fuzz tests: byte-level damage (flips, insertions, deletions,
 * appended bytes, truncation, length-field edits) and header edits (duplicate keys, shifted
 * offsets, gaps, overlaps, non-string metadata, a header not starting with `{`, padding, integer
 * notation, key order, unknown fields, empty tensors), generated deterministically from a seed.
 * Some mutations keep the file valid (junk written over tensor bytes, reordered keys, space
 * padding): the parser must then accept it.
 */

export function fuzzBases(): Uint8Array[] {
  return [
    writeSafetensors([
      { name: "backbone.stem.weight", dtype: "F32", shape: [4, 3, 3, 3] },
      { name: "backbone.stem.bias", dtype: "F32", shape: [4] },
      { name: "backbone.blocks.2.bn.num_batches_tracked", dtype: "I64", shape: [] },
      { name: "backbone.blocks.10.w", dtype: "BF16", shape: [4, 4] },
      { name: "head.w", dtype: "F16", shape: [2, 4] },
      { name: "head.e", dtype: "F64", shape: [0] },
      { name: "7", dtype: "U8", shape: [3] },
    ], { metadata: { format: "pt", "ünïcode": "✓" } }),
    fs.readFileSync(path.join(__dirname, "fixtures", "official_sorted.safetensors")),
    writeSafetensors([
      { name: "a.empty", dtype: "F32", shape: [0, 3] },
      { name: "a.w", dtype: "F16", shape: [3, 2] },
      { name: "a.mask", dtype: "BOOL", shape: [5] },
      { name: "b.empty", dtype: "I8", shape: [2, 0] },
    ]),
  ];
}

/** One header entry: a key and its value as JSON text (so duplicates and odd notation can be written). */
type Pair = [key: string, valueText: string];

interface Parts {
  pairs: Pair[];
  data: Uint8Array;
}

/** Splits a valid base file (these helpers are test tools: JSON.parse is enough for valid input). */
function split(bytes: Uint8Array): Parts {
  const n = Number(Buffer.from(bytes).readBigUInt64LE(0));
  const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString("utf8")) as Record<string, unknown>;
  return { pairs: Object.entries(header).map(([k, v]) => [k, JSON.stringify(v)]), data: bytes.subarray(8 + n) };
}

function join(pairs: readonly Pair[], data: Uint8Array, pad = true): Uint8Array {
  return assembleSafetensors(`{${pairs.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(",")}}`, data, pad);
}

interface Entry { dtype: string; shape: number[]; data_offsets: [number, number] }

const tensorPairs = (p: Parts) => p.pairs.filter(([k]) => k !== "__metadata__");
const entry = (pair: Pair) => JSON.parse(pair[1]) as Entry;

function splice(bytes: Uint8Array, at: number, remove: number, insert: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length - remove + insert.length);
  out.set(bytes.subarray(0, at));
  out.set(insert, at);
  out.set(bytes.subarray(at + remove), at + insert.length);
  return out;
}

export const SAFETENSORS_MUTATIONS = [
  "bit flips", "truncation", "length field", "JSON characters", "numbers and dtypes", "data grown or shrunk",
  "bytes inserted", "bytes deleted", "bytes appended", "junk over tensor bytes", "duplicate key", "offsets shifted",
  "gap", "overlap", "metadata values", "header start", "header padding", "keys reordered, fields added",
  "empty tensor placed", "integer notation", "header length over 100 MB",
] as const;

export type SafetensorsMutation = (typeof SAFETENSORS_MUTATIONS)[number];

export function mutateSafetensors(base: Uint8Array, random: () => number): { bytes: Uint8Array; kind: SafetensorsMutation; how: string } {
  const int = (n: number) => Math.floor(random() * n);
  const randomBytes = (n: number) => Uint8Array.from({ length: n }, () => int(256));
  const n = Number(Buffer.from(base).readBigUInt64LE(0));
  const dataStart = 8 + n;
  const kind = SAFETENSORS_MUTATIONS[int(SAFETENSORS_MUTATIONS.length)]!;
  const parts = split(base);
  const tensors = tensorPairs(parts);
  const pick = <T>(list: readonly T[]) => list[int(list.length)]!;
  const done = (bytes: Uint8Array, how: string) => ({ bytes, kind, how });
  switch (kind) {
    case "bit flips": {
      const bytes = Uint8Array.from(base);
      const flips = 1 + int(4);
      const at: number[] = [];
      for (let k = 0; k < flips; k++) {
        const i = random() < 0.8 ? int(dataStart) : int(bytes.length);
        bytes[i]! ^= 1 << int(8);
        at.push(i);
      }
      return done(bytes, `bits flipped at ${at.join(", ")}`);
    }
    case "truncation": {
      const at = int(base.length);
      return done(base.subarray(0, at), `truncated to ${at}`);
    }
    case "length field": {
      const bytes = Uint8Array.from(base);
      const choice = int(4);
      const value = choice === 0 ? BigInt(Math.max(0, n + int(33) - 16))
        : choice === 1 ? BigInt(int(2 ** 32))
          : choice === 2 ? BigInt(bytes.length - 8 + int(3))
            : (1n << BigInt(32 + int(32))) + BigInt(int(1000));
      new DataView(bytes.buffer).setBigUint64(0, value & ((1n << 64n) - 1n), true);
      return done(bytes, `length field ${value}`);
    }
    case "JSON characters": {
      const chars = "{}[]\",:0123456789-.eE aZ_\\\n";
      let text = Buffer.from(base.subarray(8, dataStart)).toString("utf8");
      const edits = 1 + int(3);
      for (let k = 0; k < edits; k++) {
        const at = int(text.length);
        const op = int(3);
        const c = chars[int(chars.length)]!;
        if (op === 0) text = text.slice(0, at) + text.slice(at + 1);
        else if (op === 1) text = text.slice(0, at) + c + text.slice(at);
        else text = text.slice(0, at) + c + text.slice(at + 1);
      }
      return done(assembleSafetensors(text, parts.data, random() < 0.5), `${edits} character edits`);
    }
    case "numbers and dtypes": {
      let text = Buffer.from(base.subarray(8, dataStart)).toString("utf8");
      const numbers = [...text.matchAll(/[0-9]+/g)];
      if (numbers.length > 0 && random() < 0.6) {
        const m = pick(numbers);
        const replacement = String(pick([0, 1, 2, 3, 4, 8, 16, 2 ** 31, 2 ** 53 + 2, Number(m[0]) + 1, Number(m[0]) - 1]));
        text = text.slice(0, m.index) + replacement + text.slice(m.index! + m[0].length);
        return done(assembleSafetensors(text.trimEnd(), parts.data), `number at ${m.index} → ${replacement}`);
      }
      const dtypes = [...text.matchAll(/"dtype":"([A-Z0-9_]+)"/g)];
      const m = pick(dtypes);
      const to = pick(["F32", "F16", "BF16", "F64", "I64", "I8", "U8", "BOOL", "F8_E4M3", "C64", "F4", "X"]);
      text = text.slice(0, m.index) + `"dtype":"${to}"` + text.slice(m.index! + m[0].length);
      return done(assembleSafetensors(text.trimEnd(), parts.data), `dtype ${m[1]} → ${to}`);
    }
    case "data grown or shrunk": {
      const extra = int(64) - 32;
      if (extra < 0) return done(base.subarray(0, Math.max(0, base.length + extra)), `${-extra} bytes cut`);
      return done(splice(base, base.length, 0, randomBytes(extra)), `${extra} bytes added`);
    }
    case "bytes inserted": {
      const len = 1 + int(16);
      const at = random() < 0.7 ? dataStart + int(base.length - dataStart + 1) : int(base.length + 1);
      return done(splice(base, at, 0, randomBytes(len)), `${len} bytes inserted at ${at}`);
    }
    case "bytes deleted": {
      const len = 1 + int(16);
      const at = random() < 0.7 && base.length > dataStart ? dataStart + int(base.length - dataStart) : int(base.length);
      return done(splice(base, at, Math.min(len, base.length - at), new Uint8Array()), `${len} bytes deleted at ${at}`);
    }
    case "bytes appended": {
      const len = pick([1, 7, 8, 64, 1000, 2000]);
      return done(splice(base, base.length, 0, randomBytes(len)), `${len} bytes appended`);
    }
    case "junk over tensor bytes": {
      const bytes = Uint8Array.from(base);
      const len = Math.min(1 + int(32), bytes.length - dataStart);
      const at = dataStart + int(bytes.length - dataStart - len + 1);
      bytes.set(randomBytes(len), at);
      return done(bytes, `${len} bytes overwritten at ${at}`);
    }
    case "duplicate key": {
      const pairs = [...parts.pairs];
      const source = pick(pairs);
      const copy: Pair = [source[0], random() < 0.5 ? source[1] : pick(pairs)[1]];
      pairs.splice(int(pairs.length + 1), 0, copy);
      return done(join(pairs, parts.data), `key ${JSON.stringify(source[0])} twice`);
    }
    case "offsets shifted": {
      // Every tensor from the k-th (in storage order) moves by delta: a gap or an overlap, and
      // the data section is grown or cut to match or not.
      const sorted = [...tensors].sort((a, b) => entry(a).data_offsets[0] - entry(b).data_offsets[0]);
      if (sorted.length === 0) return done(base, "no tensors to shift");
      const from = int(sorted.length);
      const delta = pick([-8, -4, -2, -1, 1, 2, 4, 8]);
      const moved = new Set(sorted.slice(from).map(([k]) => k));
      const pairs = parts.pairs.map(([k, v]): Pair => {
        if (!moved.has(k)) return [k, v];
        const e = JSON.parse(v) as Entry;
        return [k, JSON.stringify({ ...e, data_offsets: [e.data_offsets[0] + delta, e.data_offsets[1] + delta] })];
      });
      const data = random() < 0.5 ? parts.data : delta > 0 ? splice(parts.data, parts.data.length, 0, randomBytes(delta)) : parts.data.subarray(0, Math.max(0, parts.data.length + delta));
      return done(join(pairs, data), `offsets from ${sorted[from]![0]} shifted by ${delta}`);
    }
    case "gap": {
      // k bytes spliced into the data section before a tensor, offsets after it moved to match:
      // every tensor still reads its own bytes, but k bytes belong to none.
      const sorted = [...tensors].map(entry).filter((e) => e.data_offsets[1] > e.data_offsets[0]).sort((a, b) => a.data_offsets[0] - b.data_offsets[0]);
      if (sorted.length === 0) return done(splice(base, base.length, 0, randomBytes(4)), "4 bytes appended (no tensor to open a gap before)");
      const at = pick(sorted).data_offsets[0];
      const k = 1 + int(8);
      const pairs = parts.pairs.map(([key, v]): Pair => {
        if (key === "__metadata__") return [key, v];
        const e = JSON.parse(v) as Entry;
        const shift = (o: number) => (o > at || (o === at && e.data_offsets[1] > at) ? o + k : o);
        return [key, JSON.stringify({ ...e, data_offsets: [shift(e.data_offsets[0]), shift(e.data_offsets[1])] })];
      });
      return done(join(pairs, splice(parts.data, at, 0, randomBytes(k))), `${k}-byte gap at data offset ${at}`);
    }
    case "overlap": {
      // A new tensor over bytes of existing ones (same size, so only the overlap is wrong).
      const nonEmpty = tensors.filter((p) => entry(p).data_offsets[1] > entry(p).data_offsets[0]);
      if (nonEmpty.length === 0) return done(base, "no tensor to overlap");
      const e = entry(pick(nonEmpty));
      const shift = random() < 0.5 ? 0 : -int(e.data_offsets[0] + 1);
      const copy: Pair = [`overlap.${int(100)}`, JSON.stringify({ dtype: "U8", shape: [e.data_offsets[1] - e.data_offsets[0]], data_offsets: [e.data_offsets[0] + shift, e.data_offsets[1] + shift] })];
      const pairs = [...parts.pairs];
      pairs.splice(int(pairs.length + 1), 0, copy);
      return done(join(pairs, parts.data), `${copy[0]} over ${JSON.parse(copy[1]).data_offsets}`);
    }
    case "metadata values": {
      const value = pick(["3", "null", "true", "[\"x\"]", "{\"a\":\"b\"}", "\"ok\"", "1.5", "\"\""]);
      const pairs = parts.pairs.filter(([k]) => k !== "__metadata__");
      const whole = random() < 0.3;
      const metadata = whole ? value : `{"format":"pt","k${int(10)}":${value}}`;
      pairs.splice(int(pairs.length + 1), 0, ["__metadata__", metadata]);
      return done(join(pairs, parts.data), `__metadata__ ${metadata}`);
    }
    case "header start": {
      const text = Buffer.from(base.subarray(8, dataStart)).toString("utf8");
      const prefix = pick([" ", "\n", "\t", "\ufeff", "[", "x"]);
      const replaced = random() < 0.5 ? prefix + text : prefix + text.slice(1);
      return done(assembleSafetensors(replaced, parts.data, false), `header starts with ${JSON.stringify(prefix)}`);
    }
    case "header padding": {
      const text = Buffer.from(base.subarray(8, dataStart)).toString("utf8").trimEnd();
      const pad = pick([" ", "        ", " ".repeat(1 + int(40)), "\n", "\t", "\r", "\u0000", " \n ", "  x"]);
      return done(assembleSafetensors(text + pad, parts.data, false), `header padded with ${JSON.stringify(pad)}`);
    }
    case "keys reordered, fields added": {
      const pairs = [...parts.pairs];
      for (let i = pairs.length - 1; i > 0; i--) {
        const j = int(i + 1);
        [pairs[i], pairs[j]] = [pairs[j]!, pairs[i]!];
      }
      const withUnknown = pairs.map(([k, v]): Pair => (k !== "__metadata__" && random() < 0.3 ? [k, v.replace(/^\{/, `{"note":[1.5,{"x":null}],`)] : [k, v]));
      return done(join(withUnknown, parts.data), "keys shuffled, unknown fields added");
    }
    case "empty tensor placed": {
      const at = random() < 0.5 ? pick(tensors.map((p) => entry(p).data_offsets[pick([0, 1])])) : int(parts.data.length + 1);
      const pairs = [...parts.pairs];
      pairs.splice(int(pairs.length + 1), 0, [`zz.empty${int(10)}`, JSON.stringify({ dtype: pick(["F32", "U8"]), shape: [0, 2], data_offsets: [at, at] })]);
      return done(join(pairs, parts.data), `empty tensor at ${at}`);
    }
    case "integer notation": {
      if (tensors.length === 0) return done(base, "no tensor");
      const [key, v] = pick(tensors);
      const e = JSON.parse(v) as Entry;
      const k = e.data_offsets[1];
      const form = pick([`${k}.0`, `${k}e0`, `${k}E+0`, k === 0 ? "-0" : `${k * 10}e-1`, String(k)]);
      const pairs = parts.pairs.map(([pk, pv]): Pair => (pk === key ? [pk, pv.replace(/"data_offsets":\[(\d+),(\d+)\]/, `"data_offsets":[$1,${form}]`)] : [pk, pv]));
      return done(join(pairs, parts.data), `${key} end written ${form}`);
    }
    case "header length over 100 MB": {
      const bytes = Uint8Array.from(base);
      const value = BigInt(100_000_001 + int(1000)) + (random() < 0.5 ? 0n : BigInt(int(2 ** 30)));
      new DataView(bytes.buffer).setBigUint64(0, value, true);
      return done(bytes, `length field ${value}`);
    }
  }
}

export interface FuzzReport extends BaseFuzzReport {
  /** Files the judge finds valid that the parser refused, by the parser's reason. */
  validRefused: string[];
}

/**
 * Parses `count` mutated files and judges every accepted one independently; also checks that an
 * accepted file reparses identically, its tensors sit where the judge reads them, and the merge
 * writer reproduces it byte for byte.
 */
export async function fuzzSafetensors(args: { seed: number; count: number }, progress: (label: string) => void = () => {}): Promise<FuzzReport> {
  const random = prng(args.seed);
  const bases = fuzzBases();
  const report: FuzzReport = { parses: 0, accepted: 0, rejected: 0, failures: [], acceptedInvalid: [], validRefused: [], byKind: {}, slowestMs: 0 };
  for (let k = 0; k < args.count; k++) {
    const { bytes, kind, how } = mutateSafetensors(bases[k % bases.length]!, random);
    const label = `safetensors #${k} (${kind}: ${how})`;
    progress(label);
    const stats = (report.byKind[kind] ??= { accepted: 0, rejected: 0 });
    const verdict = judgeSafetensors(bytes);
    const started = performance.now();
    let model;
    try {
      model = parseSafetensors(bufferSource(bytes));
    } catch (error) {
      if (!(error instanceof DomainError) || error.code !== "BAD_USER_INPUT") report.failures.push(`${label}: ${String(error)}`);
      else if (verdict.valid) report.validRefused.push(`${label}: ${error.message}`);
    }
    const elapsed = performance.now() - started;
    report.parses++;
    report.slowestMs = Math.max(report.slowestMs, elapsed);
    if (elapsed > SLOW_PARSE_MS) report.failures.push(`${label}: took ${elapsed.toFixed(0)} ms`);
    if (model === undefined) {
      report.rejected++;
      stats.rejected++;
      continue;
    }
    report.accepted++;
    stats.accepted++;
    if (!verdict.valid) {
      report.acceptedInvalid.push(`${label}: ${verdict.reason}`);
      continue;
    }
    const where = (t: { name: string; dtype: string; shape: number[]; offset: number; length: number }) => `${t.name} ${t.dtype} [${t.shape.join(",")}] @${t.offset}+${t.length}`;
    const parsed = model.tensors.map((t) => where({ ...t, offset: t.location.kind === "raw" ? t.location.offset : -1, length: t.location.kind === "raw" ? t.location.length : -1 })).sort();
    const judged = verdict.tensors.map((t: JudgedTensor) => where(t)).sort();
    if (JSON.stringify(parsed) !== JSON.stringify(judged)) report.failures.push(`${label}: tensors ${JSON.stringify(parsed)} but the judge reads ${JSON.stringify(judged)}`);
    if (JSON.stringify(parseSafetensors(bufferSource(bytes))) !== JSON.stringify(model)) report.failures.push(`${label}: a second parse differs`);
    const chunks: Uint8Array[] = [];
    await rewriteSafetensors(bufferSource(bytes), { replace: [], getTensorBytes: async () => new Uint8Array() }, {
      async write(chunk) { chunks.push(Uint8Array.from(chunk)); },
    });
    if (!Buffer.concat(chunks).equals(Buffer.from(bytes))) report.failures.push(`${label}: the rewrite changed the bytes`);
  }
  return report;
}
