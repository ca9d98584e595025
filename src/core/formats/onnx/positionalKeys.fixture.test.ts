import * as fs from "node:fs";
import * as path from "node:path";
import { FileByteSource } from "../byteSource";
import { parseOnnx } from "./parseOnnx";
import type { ParsedModel } from "../../structure/types";

/**
 * Real exports with exporter-generated weight names (fixtures/generated-names, written by
 * make_generated_name_exports.py with PyTorch): the pairs of tensors with equal positional keys are
 * exactly the pairs the script traced to the same PyTorch parameter.
 */
const dir = path.join(__dirname, "fixtures", "generated-names");
const expected = JSON.parse(fs.readFileSync(path.join(dir, "generated_name_exports.expected.json"), "utf8"));

function parse(file: string): ParsedModel {
  const source = new FileByteSource(path.join(dir, file));
  try {
    return parseOnnx(source);
  } finally {
    source.close();
  }
}

function keyPairs(a: ParsedModel, b: ParsedModel): string[][] {
  const byKey = new Map(b.tensors.map((t) => [t.positionKey, t.name]));
  return a.tensors.filter((t) => byKey.has(t.positionKey)).map((t) => [t.name, byKey.get(t.positionKey)!]).sort();
}

describe("positional keys of PyTorch exports", () => {
  it("key every listed tensor, distinctly within a model", () => {
    for (const file of ["backbone_head_a.onnx", "backbone_head_b.onnx", "numbered_1.onnx", "numbered_2.onnx"]) {
      const parsed = parse(file);
      const keys = parsed.tensors.map((t) => t.positionKey);
      expect(keys.every((k) => typeof k === "string" && k.length === 32)).toBe(true);
      expect(new Set(keys).size).toBe(keys.length);
    }
  });

  it("pair exactly the backbone's tensors of one backbone under two heads (one reading two stages)", () => {
    const pairs = keyPairs(parse(expected.backboneHeads.a), parse(expected.backboneHeads.b));
    expect(pairs).toEqual(expected.backboneHeads.pairs);
    expect(pairs).toHaveLength(6);
  });

  it("pair every tensor of one network exported under two numberings, and agree with the renamed copies", () => {
    const n1 = parse(expected.numbered.a);
    const n2 = parse(expected.numbered.b);
    expect(keyPairs(n1, n2)).toEqual(expected.numbered.pairs);
    expect(expected.numbered.pairs).toHaveLength(n1.tensors.length);
    const named = parse(expected.named["numbered_1.onnx"].file);
    const names = expected.named["numbered_1.onnx"].names as Record<string, string>;
    expect(keyPairs(n1, named)).toEqual(n1.tensors.map((t) => [t.name, names[t.name]]).sort());
  });

  it("on named exports (the demo's PyTorch models), pair exactly the tensors their module names pair", () => {
    const demo = path.join(__dirname, "..", "..", "..", "..", "examples", "demo", "models");
    const read = (file: string) => {
      const source = new FileByteSource(path.join(demo, file));
      try {
        return parseOnnx(source, { externalDataRoot: demo });
      } finally {
        source.close();
      }
    };
    const anchor = read("source-only.onnx");
    for (const file of ["selftrain.onnx", "fcn-head.onnx", "panoptic.onnx"]) {
      const other = read(file);
      const names = new Set(other.tensors.map((t) => t.name));
      const byName = anchor.tensors.filter((t) => names.has(t.name) && other.tensors.find((o) => o.name === t.name)!.shape.join() === t.shape.join()).map((t) => [t.name, t.name]);
      expect(keyPairs(anchor, other)).toEqual(byName.sort());
    }
  });
});
