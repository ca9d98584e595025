import { performance } from "node:perf_hooks";
import { DomainError } from "../../../errors";
import { DTYPE_BYTES } from "../../../structure/types";
import { prng } from "../../../testing/prng";
import { type FuzzReport, SLOW_PARSE_MS } from "../../../testing/fuzzReport";
import { bufferSource } from "../../byteSource";
import { ProtoReader } from "../../protobuf/protoReader";
import { encodeVarint } from "../../protobuf/protoWriter";
import { parseOnnx } from "../parseOnnx";
import { readTensorBytes } from "../readTensorBytes";
import { buildSegNet, type SegNetOptions } from "./buildSegNet";
import { judgeOnnx } from "./judgeOnnx";
import { type TestGraph, type TestModel, type TestNode, writeOnnxModel } from "./onnxModelWriter";

/**
 * Mutated ONNX models for fuzz tests, generated deterministically from a seed: byte-level damage
 * (bit flips, truncation, length-prefix edits, inserted, deleted and appended bytes) and graph
 * edits made on the model description and written again (node inputs renamed, removed or left
 * empty, nodes removed or shuffled, initializers removed, nodes moved into If / Loop bodies that
 * use outer-scope names, well or badly). Shuffled nodes, empty optional inputs and well-formed
 * subgraphs keep the model valid: the parser must accept them.
 */

export const SEEDS: SegNetOptions[] = [
  {},
  { dtype: "F16", encoding: "typed" },
  { constants: "constant", encoding: "typed-unpacked" },
  { quantized: true, heads: "B", nodeOrder: "unsorted" },
  { dtype: "F16", constants: "constant", generatedNames: true },
];

export const ONNX_MUTATIONS = [
  "bit flips", "truncation", "length prefix", "bytes inserted", "bytes deleted", "bytes appended",
  "input renamed", "input removed", "empty optional input", "node removed", "initializer removed",
  "nodes shuffled", "subgraph", "subgraph, bad reference", "loop body", "subgraph value leaked",
] as const;

export type OnnxMutation = (typeof ONNX_MUTATIONS)[number];

/** Mutations after which the model is still valid by the rule, and parses. */
export const MUST_ACCEPT: ReadonlySet<OnnxMutation> = new Set<OnnxMutation>(["nodes shuffled", "empty optional input", "subgraph", "loop body"]);

export interface FuzzSeed {
  name: string;
  model: TestModel;
  bytes: Uint8Array;
  prefixes: Array<{ start: number; end: number; value: number }>;
}

/** The seeds, plus one whose graph already holds an If and a Loop (so byte damage reaches subgraphs). */
export function fuzzSeeds(): FuzzSeed[] {
  const models = SEEDS.map((o) => ({ name: JSON.stringify(o), model: buildSegNet(o).model }));
  const nested = structuredClone(buildSegNet({ heads: "B" }).model);
  moveIntoIf(nested, nested.nodes.findIndex((n) => n.name === "halve"), "ok", () => 0);
  moveIntoLoop(nested, nested.nodes.findIndex((n) => n.name === "layer1_relu"));
  models.push({ name: "with If and Loop", model: nested });
  return models.map(({ name, model }) => {
    const bytes = writeOnnxModel(model).bytes;
    return { name, model, bytes, prefixes: lengthPrefixes(bytes) };
  });
}

/** Length prefixes of every length-delimited field that itself parses as a message, recursively. */
function lengthPrefixes(bytes: Uint8Array): Array<{ start: number; end: number; value: number }> {
  const source = bufferSource(bytes);
  const out: Array<{ start: number; end: number; value: number }> = [];
  const walk = (start: number, end: number, depth: number) => {
    if (depth > 8) return;
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

function splice(bytes: Uint8Array, at: number, remove: number, insert: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length - remove + insert.length);
  out.set(bytes.subarray(0, at));
  out.set(insert, at);
  out.set(bytes.subarray(at + remove), at + insert.length);
  return out;
}

const isConstant = (n: TestNode) => n.opType === "Constant";
const f32 = (name: string) => ({ name, dtype: "F32" as const, shape: [1] });

/** Replaces node `index` by an If whose branches each hold a copy of it using the outer graph's values. */
function moveIntoIf(m: TestModel, index: number, variant: "ok" | "missing" | "sibling", pick: (n: number) => number): string {
  const node = m.nodes[index]!;
  const branch = (prefix: string): TestGraph => ({
    name: prefix,
    inputs: [],
    outputs: node.outputs.map((o) => f32(`${prefix}_${o}`)),
    nodes: [{ ...structuredClone(node), name: `${prefix}_${node.name ?? index}`, outputs: node.outputs.map((o) => `${prefix}_${o}`) }],
    initializers: [],
  });
  const then = branch("then");
  const otherwise = branch("else");
  const inner = then.nodes[0]!;
  const slots = inner.inputs.map((_, k) => k).filter((k) => inner.inputs[k] !== "");
  if (variant !== "ok" && slots.length > 0) {
    const slot = slots[pick(slots.length)]!;
    inner.inputs[slot] = variant === "missing" ? `${inner.inputs[slot]}_gone` : otherwise.outputs[0]!.name;
  }
  if (!m.inputs.some((i) => i.name === "cond")) m.inputs.push({ name: "cond", dtype: "U8", shape: [] });
  m.nodes[index] = { opType: "If", name: `if_${node.name ?? index}`, inputs: ["cond"], outputs: node.outputs, attributes: [{ name: "then_branch", graph: then }, { name: "else_branch", graph: otherwise }] };
  return `${node.name ?? index} into an If (${variant})`;
}

/** Replaces node `index` by a Loop whose body runs it on a loop-carried copy of its first input. */
function moveIntoLoop(m: TestModel, index: number): string {
  const node = m.nodes[index]!;
  const [first, ...rest] = node.inputs;
  const body: TestGraph = {
    name: "body",
    inputs: [{ name: "iteration", dtype: "I64", shape: [] }, { name: "go", dtype: "U8", shape: [] }, f32("carried")],
    outputs: [{ name: "go_out", dtype: "U8", shape: [] }, ...node.outputs.map((o) => f32(`body_${o}`))],
    nodes: [
      { opType: "Identity", name: "body_go", inputs: ["go"], outputs: ["go_out"] },
      { ...structuredClone(node), name: `body_${node.name ?? index}`, inputs: ["carried", ...rest], outputs: node.outputs.map((o) => `body_${o}`) },
    ],
    initializers: [],
  };
  if (!m.inputs.some((i) => i.name === "trips")) m.inputs.push({ name: "trips", dtype: "I64", shape: [] });
  m.nodes[index] = { opType: "Loop", name: `loop_${node.name ?? index}`, inputs: ["trips", "", first ?? ""], outputs: node.outputs, attributes: [{ name: "body", graph: body }] };
  return `${node.name ?? index} into a Loop body`;
}

export function mutateOnnx(seed: FuzzSeed, random: () => number): { bytes: Uint8Array; kind: OnnxMutation; how: string } {
  const int = (n: number) => Math.floor(random() * n);
  const randomBytes = (n: number) => Uint8Array.from({ length: n }, () => int(256));
  const original = seed.bytes;
  const kind = ONNX_MUTATIONS[int(ONNX_MUTATIONS.length)]!;
  const done = (bytes: Uint8Array, how: string) => ({ bytes, kind, how });
  const edit = (change: (m: TestModel) => string) => {
    const m = structuredClone(seed.model);
    const how = change(m);
    return done(writeOnnxModel(m).bytes, how);
  };
  const withInputs = (m: TestModel) => m.nodes.map((n, i) => i).filter((i) => m.nodes[i]!.inputs.some((x) => x !== ""));
  switch (kind) {
    case "bit flips": {
      const bytes = original.slice();
      const flips = 1 + int(8);
      for (let i = 0; i < flips; i++) bytes[int(bytes.length)] ^= 1 << int(8);
      return done(bytes, `${flips} bit flips`);
    }
    case "truncation": {
      const at = int(original.length);
      return done(original.slice(0, at), `truncated at ${at}`);
    }
    case "length prefix": {
      const p = seed.prefixes[int(seed.prefixes.length)]!;
      const choices = [0, 1, p.value - 1, p.value + 1, p.value * 2, 127, 128, 2 ** 31, 2 ** 53 - 1, -1];
      const value = choices[int(choices.length)]!;
      const encoded = value < 0 ? encodeVarint(-1) : encodeVarint(Math.max(0, value));
      return done(splice(original, p.start, p.end - p.start, encoded), `length at ${p.start}: ${p.value} → ${value}`);
    }
    case "bytes inserted": {
      const at = int(original.length + 1);
      const len = 1 + int(16);
      return done(splice(original, at, 0, randomBytes(len)), `${len} random bytes inserted at ${at}`);
    }
    case "bytes deleted": {
      const at = int(original.length);
      const len = Math.min(1 + int(16), original.length - at);
      return done(splice(original, at, len, new Uint8Array()), `${len} bytes deleted at ${at}`);
    }
    case "bytes appended": {
      const len = [1, 2, 8, 64, 1000][int(5)]!;
      return done(splice(original, original.length, 0, randomBytes(len)), `${len} random bytes appended`);
    }
    case "input renamed":
      return edit((m) => {
        const i = withInputs(m)[int(withInputs(m).length)]!;
        const node = m.nodes[i]!;
        const slots = node.inputs.map((_, k) => k).filter((k) => node.inputs[k] !== "");
        const slot = slots[int(slots.length)]!;
        const defined = [...m.initializers.map((t) => t.name), ...m.inputs.map((v) => v.name), ...m.nodes.flatMap((n) => n.outputs)];
        const to = random() < 0.6 ? `${node.inputs[slot]}${["_x", "X", ".", " "][int(4)]}` : defined[int(defined.length)]!;
        const from = node.inputs[slot];
        node.inputs[slot] = to;
        return `${node.name} input ${slot} ${from} → ${to}`;
      });
    case "input removed":
      return edit((m) => {
        const i = withInputs(m)[int(withInputs(m).length)]!;
        const node = m.nodes[i]!;
        const slot = int(node.inputs.length);
        node.inputs.splice(slot, 1);
        return `${node.name} input ${slot} removed`;
      });
    case "empty optional input":
      return edit((m) => {
        const i = withInputs(m)[int(withInputs(m).length)]!;
        const node = m.nodes[i]!;
        const slot = int(node.inputs.length);
        node.inputs[slot] = "";
        return `${node.name} input ${slot} left empty`;
      });
    case "node removed":
      return edit((m) => {
        const i = int(m.nodes.length);
        const [node] = m.nodes.splice(i, 1);
        return `node ${node!.name} removed`;
      });
    case "initializer removed":
      return edit((m) => {
        if (m.initializers.length > 0) {
          const [t] = m.initializers.splice(int(m.initializers.length), 1);
          return `initializer ${t!.name} removed`;
        }
        const constants = m.nodes.map((n, i) => i).filter((i) => isConstant(m.nodes[i]!));
        const [n] = m.nodes.splice(constants[int(constants.length)]!, 1);
        return `Constant ${n!.name} removed`;
      });
    case "nodes shuffled":
      return edit((m) => {
        for (let i = m.nodes.length - 1; i > 0; i--) {
          const j = int(i + 1);
          [m.nodes[i], m.nodes[j]] = [m.nodes[j]!, m.nodes[i]!];
        }
        return "node list shuffled";
      });
    case "subgraph":
    case "subgraph, bad reference":
      return edit((m) => {
        const candidates = m.nodes.map((n, i) => i).filter((i) => !isConstant(m.nodes[i]!) && m.nodes[i]!.opType !== "If" && m.nodes[i]!.opType !== "Loop");
        const variant = kind === "subgraph" ? "ok" : random() < 0.5 ? "missing" : "sibling";
        return moveIntoIf(m, candidates[int(candidates.length)]!, variant, int);
      });
    case "loop body":
      return edit((m) => {
        const candidates = m.nodes.map((n, i) => i).filter((i) => !isConstant(m.nodes[i]!) && m.nodes[i]!.opType !== "If" && m.nodes[i]!.opType !== "Loop");
        return moveIntoLoop(m, candidates[int(candidates.length)]!);
      });
    case "subgraph value leaked":
      return edit((m) => {
        // A node of the main graph uses a value produced only inside a branch.
        const candidates = m.nodes.map((n, i) => i).filter((i) => !isConstant(m.nodes[i]!) && m.nodes[i]!.opType !== "If" && m.nodes[i]!.opType !== "Loop");
        const index = candidates[int(candidates.length)]!;
        const inner = m.nodes[index]!.outputs[0]!;
        const how = moveIntoIf(m, index, "ok", int);
        const consumers = m.nodes.filter((n) => n.inputs.includes(inner));
        const consumer = consumers.length > 0 ? consumers[int(consumers.length)]! : m.nodes[int(m.nodes.length)]!;
        const slot = Math.max(0, consumer.inputs.indexOf(inner));
        consumer.inputs[slot] = `then_${inner}`;
        return `${how}; ${consumer.name} input ${slot} → then_${inner}`;
      });
  }
}


/** Parses `perSeed` mutations of each seed and judges every accepted one independently. */
export async function fuzzOnnx(args: { seed: number; perSeed: number }, progress: (label: string) => void = () => {}): Promise<FuzzReport> {
  const random = prng(args.seed);
  const report: FuzzReport = { parses: 0, accepted: 0, rejected: 0, failures: [], acceptedInvalid: [], byKind: {}, slowestMs: 0 };
  for (const seed of fuzzSeeds()) {
    for (let i = 0; i < args.perSeed; i++) {
      const { bytes, kind, how } = mutateOnnx(seed, random);
      const label = `onnx seed ${seed.name} #${i} (${kind}: ${how})`;
      progress(label);
      const stats = (report.byKind[kind] ??= { accepted: 0, rejected: 0 });
      const started = performance.now();
      let parsed: ReturnType<typeof parseOnnx> | undefined;
      try {
        parsed = parseOnnx(bufferSource(bytes));
      } catch (e) {
        if (!(e instanceof DomainError) || e.code !== "BAD_USER_INPUT") report.failures.push(`${label}: threw ${(e as Error)?.stack ?? e}`);
        else if (MUST_ACCEPT.has(kind)) report.failures.push(`${label}: refused a valid model: ${e.message}`);
      }
      const elapsed = performance.now() - started;
      report.parses++;
      report.slowestMs = Math.max(report.slowestMs, elapsed);
      if (elapsed > SLOW_PARSE_MS) report.failures.push(`${label}: took ${elapsed.toFixed(0)} ms`);
      if (!parsed) {
        report.rejected++;
        stats.rejected++;
        continue;
      }
      report.accepted++;
      stats.accepted++;
      const verdict = judgeOnnx(bytes);
      if (!verdict.valid) {
        report.acceptedInvalid.push(`${label}: ${verdict.reason}`);
        continue;
      }
      if (JSON.stringify(parseOnnx(bufferSource(bytes))) !== JSON.stringify(parsed)) report.failures.push(`${label}: a second parse differs`);
      for (const t of parsed.tensors) {
        try {
          const data = readTensorBytes(bufferSource(bytes), t);
          const width = t.location.kind === "typed" && t.location.encoding !== "varint" ? (t.location.encoding === "fixed32" ? 4 : 8) : DTYPE_BYTES[t.dtype];
          const expected = t.location.kind === "typed" ? t.location.count * width : t.location.length;
          if (data.length !== expected) report.failures.push(`${label}: "${t.name}" reads ${data.length} bytes, expected ${expected}`);
        } catch (e) {
          if (!(e instanceof DomainError)) report.failures.push(`${label}: reading "${t.name}" threw ${(e as Error)?.stack ?? e}`);
        }
      }
    }
  }
  return report;
}
