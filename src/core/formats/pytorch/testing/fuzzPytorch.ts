import * as fs from "node:fs";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { DomainError } from "../../../errors";
import { prng } from "../../../testing/prng";
import { type FuzzReport as BaseFuzzReport, SLOW_PARSE_MS } from "../../../testing/fuzzReport";
import { bufferSource } from "../../byteSource";
import { parsePytorch } from "../parsePytorch";
import { judgePytorch } from "./judgePytorch";
import { writeZip, zipParts, type ZipPart } from "./zipParts";

/**
 * Mutated PyTorch checkpoints for fuzz tests, generated deterministically from a seed, from the
 * committed torch.save fixtures (zip, mmseg-like, fp16/bf16, legacy) and a Zip64 rewrite: byte
 * damage anywhere, damage inside the pickle (bit flips, inserted opcodes, cuts, a forbidden
 * global, a storage key or offset changed), container edits (entries removed, shrunk, deflated,
 * renamed, duplicated, sizes declared huge) and legacy edits (storage counts). Some keep the
 * file valid (a Zip64 rewrite, a deflated data.pkl): the reader must accept them.
 */
const FIXTURES = path.join(__dirname, "..", "fixtures");
const MAX_ENTRY_BYTES = 1 << 20;

export function fuzzBases(): Uint8Array[] {
  const read = (f: string) => new Uint8Array(fs.readFileSync(path.join(FIXTURES, f)));
  return [
    read("net_a.pth"),
    read("mmseg_like.pth"),
    read("half.pth"),
    read("net_a_legacy.pth"),
    writeZip(zipParts(read("net_b.pth")), { zip64: true, align: 64 }),
  ];
}

export const PYTORCH_MUTATIONS = [
  "bit flips", "truncation", "bytes appended", "pickle bit flips", "pickle cut", "opcode inserted",
  "forbidden global", "storage key changed", "storage offset changed", "storage removed", "storage shrunk",
  "tensor entry deflated", "data.pkl deflated", "zip64 rewrite", "unsafe entry name", "duplicate entry",
  "declared size huge", "legacy storage count",
] as const;
type Kind = (typeof PYTORCH_MUTATIONS)[number];

const isZip = (b: Uint8Array) => b[0] === 0x50 && b[1] === 0x4b;
const FORBIDDEN = ["posix\nsystem", "builtins\neval", "subprocess\nPopen", "os\nsystem", "builtins\nexec", "torch\nload", "copyreg\n_reconstructor"];

export function mutatePytorch(base: Uint8Array, random: () => number): { bytes: Uint8Array; kind: Kind; how: string } {
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const zip = isZip(base);
  const kinds = PYTORCH_MUTATIONS.filter((k) => (k === "legacy storage count" ? !zip : ["bit flips", "truncation", "bytes appended"].includes(k) || zip));
  const kind = pick(kinds);
  const done = (bytes: Uint8Array, how: string) => ({ bytes, kind, how });
  const parts = zip ? zipParts(base) : [];
  const pklIndex = parts.findIndex((p) => p.name.endsWith("/data.pkl"));
  const dataParts = parts.map((p, i) => [p, i] as const).filter(([p]) => p.name.includes("/data/"));
  const withPickle = (pkl: Uint8Array, how: string) => {
    const next = parts.map((p, i) => (i === pklIndex ? { ...p, data: pkl } : p));
    return done(writeZip(next), how);
  };
  const pkl = zip ? parts[pklIndex].data : new Uint8Array();
  switch (kind) {
    case "bit flips": {
      const out = Uint8Array.from(base);
      const n = 1 + int(8);
      for (let k = 0; k < n; k++) out[int(out.length)] ^= 1 << int(8);
      return done(out, `${n} flips`);
    }
    case "truncation": {
      const at = int(base.length);
      return done(base.subarray(0, at), `cut at ${at}`);
    }
    case "bytes appended":
      return done(Uint8Array.from([...base, ...Array.from({ length: 1 + int(40) }, () => int(256))]), "appended");
    case "pickle bit flips": {
      const out = Uint8Array.from(pkl);
      const n = 1 + int(4);
      for (let k = 0; k < n; k++) out[int(out.length)] ^= 1 << int(8);
      return withPickle(out, `${n} flips in data.pkl`);
    }
    case "pickle cut": {
      const at = int(pkl.length);
      return withPickle(pkl.subarray(0, at), `data.pkl cut at ${at}`);
    }
    case "opcode inserted": {
      const at = int(pkl.length);
      const op = pick([0x28, 0x2e, 0x30, 0x31, 0x32, 0x4e, 0x52, 0x51, 0x62, 0x61, 0x73, 0x75, 0x74, 0x85, 0x93, 0x94, 0x97, 0x82, 0x50, 0xff, int(256)]);
      return withPickle(Uint8Array.from([...pkl.subarray(0, at), op, ...pkl.subarray(at)]), `0x${op.toString(16)} at ${at}`);
    }
    case "forbidden global": {
      const text = Buffer.from(pkl).toString("latin1");
      const globals = [...text.matchAll(/c([\w.]+\n[\w.]+\n)/g)];
      const target = pick(globals);
      const replacement = pick(FORBIDDEN);
      const at = target.index! + 1;
      const out = Buffer.concat([Buffer.from(pkl.subarray(0, at)), Buffer.from(`${replacement}\n`, "latin1"), Buffer.from(pkl.subarray(at + target[1].length))]);
      return withPickle(new Uint8Array(out), `${target[1].replace(/\n/g, ".")} → ${replacement.replace("\n", ".")}`);
    }
    case "storage key changed": {
      // ('storage', type, key, ...): the key is the BINUNICODE after the storage type's BINPUT.
      const text = Buffer.from(pkl).toString("latin1");
      const keys = [...text.matchAll(/Storage\nq.X(.)\0\0\0(\d+)/gs)];
      if (keys.length === 0) return done(base, "no key");
      const target = pick(keys);
      const key = String(pick([int(dataParts.length + 2), 99, 0]));
      const at = target.index! + target[0].length - target[2].length - 5;
      const entry = Buffer.concat([Buffer.from([0x58]), Buffer.from(Uint32Array.of(key.length).buffer), Buffer.from(key)]);
      const out = Buffer.concat([Buffer.from(pkl.subarray(0, at)), entry, Buffer.from(pkl.subarray(at + 5 + target[2].length))]);
      return withPickle(new Uint8Array(out), `key ${target[2]} → ${key}`);
    }
    case "storage offset changed": {
      // BINPERSID followed by BININT1 (the storage offset).
      const sites = [...Buffer.from(pkl).toString("latin1").matchAll(/Q(K)/g)];
      if (sites.length === 0) return done(base, "no site");
      const at = pick(sites).index! + 2;
      const out = Uint8Array.from(pkl);
      out[at] = pick([1, 2, 100, 255, int(256)]);
      return withPickle(out, `offset ${out[at]} at ${at}`);
    }
    case "storage removed": {
      const [, i] = pick(dataParts);
      return done(writeZip(parts.filter((_, k) => k !== i)), `removed ${parts[i].name}`);
    }
    case "storage shrunk": {
      const [p, i] = pick(dataParts);
      const keep = int(p.data.length);
      return done(writeZip(parts.map((q, k) => (k === i ? { ...q, data: q.data.subarray(0, keep) } : q))), `${p.name} cut to ${keep}`);
    }
    case "tensor entry deflated": {
      const [p, i] = pick(dataParts);
      return done(writeZip(parts.map((q, k) => (k === i ? { ...q, deflate: true } : q))), `${p.name} deflated`);
    }
    case "data.pkl deflated":
      return done(writeZip(parts.map((q, k) => (k === pklIndex ? { ...q, deflate: true } : q)), { align: pick([0, 64]) || undefined }), "data.pkl deflated");
    case "zip64 rewrite":
      return done(writeZip(parts, { zip64: true, align: pick([0, 64]) || undefined }), "zip64");
    case "unsafe entry name": {
      const i = int(parts.length);
      const name = pick(["../evil", "/abs/path", "a\\b", "C:/x", "x/../../y", "a\u0001b"]);
      return done(writeZip(parts.map((q, k) => (k === i ? { ...q, name } : q))), `${parts[i].name} → ${JSON.stringify(name)}`);
    }
    case "duplicate entry": {
      const i = int(parts.length);
      const next: ZipPart[] = [...parts];
      next.splice(int(next.length + 1), 0, parts[i]);
      return done(writeZip(next), `${parts[i].name} twice`);
    }
    case "declared size huge": {
      const out = Buffer.from(writeZip(parts));
      const cd = [...out.toString("latin1").matchAll(/PK\u0001\u0002/g)].map((m) => m.index!);
      const at = pick(cd);
      const big = MAX_ENTRY_BYTES + 1 + int(1 << 30);
      out.writeUInt32LE(big, at + 24);
      if (random() < 0.5) out.writeUInt32LE(big, at + 20);
      return done(new Uint8Array(out), `entry at ${at} declares ${big}`);
    }
    case "legacy storage count": {
      // Each storage is its 8-byte element count then its bytes; change one count.
      const out = Uint8Array.from(base);
      const counts = [...Buffer.from(base).toString("latin1").matchAll(/\.(?=[^\0]?[\0-\xff]{7})/gs)].map((m) => m.index! + 1).filter((i) => i + 8 <= base.length);
      const at = counts.length ? pick(counts) : int(base.length - 8);
      new DataView(out.buffer).setBigUint64(at, BigInt(pick([0, 1, 3, 4, 27, 108, 1 << 20, 2 ** 40])), true);
      return done(out, `8 bytes at ${at}`);
    }
  }
}

export interface FuzzReport extends BaseFuzzReport {
  /** Files the judge finds valid that the reader refused, by the reader's reason. */
  validRefused: string[];
}

/** Parses `count` mutated files and judges every accepted one independently. */
export async function fuzzPytorch(args: { seed: number; count: number }, progress: (label: string) => void = () => {}): Promise<FuzzReport> {
  const random = prng(args.seed);
  const bases = fuzzBases();
  const report: FuzzReport = { parses: 0, accepted: 0, rejected: 0, failures: [], acceptedInvalid: [], validRefused: [], byKind: {}, slowestMs: 0 };
  for (let k = 0; k < args.count; k++) {
    const { bytes, kind, how } = mutatePytorch(bases[k % bases.length]!, random);
    const label = `pytorch #${k} (${kind}: ${how})`;
    progress(label);
    const stats = (report.byKind[kind] ??= { accepted: 0, rejected: 0 });
    const verdict = judgePytorch(bytes);
    const started = performance.now();
    let model;
    try {
      model = parsePytorch(bufferSource(bytes), { maxEntryBytes: MAX_ENTRY_BYTES });
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
    for (const t of model.tensors) {
      const loc = t.location as { offset: number; length: number };
      if (loc.offset < 0 || loc.offset + loc.length > bytes.length) report.failures.push(`${label}: ${t.name} located outside the file`);
    }
    if (JSON.stringify(parsePytorch(bufferSource(bytes), { maxEntryBytes: MAX_ENTRY_BYTES })) !== JSON.stringify(model)) report.failures.push(`${label}: a second parse differs`);
  }
  return report;
}
