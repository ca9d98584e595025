import * as fs from "node:fs";
import * as path from "node:path";
import { createHash } from "node:crypto";
import { bufferSource, FileByteSource } from "../byteSource";
import { writeZip, zipParts } from "./testing/zipParts";
import { parsePytorch, type ParsePytorchOptions, type PytorchMetadata } from "./parsePytorch";

/**
 * The committed checkpoints (fixtures/make_fixtures.py, written by torch.save) read as torch
 * itself describes them in expected.json: names in state-dict order, shapes, dtypes, and the
 * sha256 of each tensor's bytes read at the located range.
 */
const dir = path.join(__dirname, "fixtures");
interface Expected { name: string; shape: number[]; dtype: string; sha256: string; values: number[] }
const expected = JSON.parse(fs.readFileSync(path.join(dir, "expected.json"), "utf8")) as Record<string, unknown>;

function parse(file: string, options: ParsePytorchOptions = {}) {
  const source = new FileByteSource(path.join(dir, file), 4096);
  try {
    const parsed = parsePytorch(source, options);
    const hashes = parsed.tensors.map((t) => {
      const loc = t.location as { offset: number; length: number };
      return createHash("sha256").update(source.read(loc.offset, loc.length)).digest("hex");
    });
    return { parsed, hashes };
  } finally {
    source.close();
  }
}

describe("parsePytorch on torch.save's own files", () => {
  it.each(["net_a.pth", "net_b.pth", "net_a_legacy.pth", "net_a_ddp.pth", "mmseg_like.pth", "half.pth", "net_a_p4.pth"])("%s: names, shapes, dtypes and bytes as torch wrote them", (file) => {
    const want = expected[file] as Expected[];
    const { parsed, hashes } = parse(file);
    expect(parsed.format).toBe("pytorch");
    expect(parsed.tensors.map((t) => ({ name: t.name, shape: t.shape, dtype: t.dtype }))).toEqual(want.map((w) => ({ name: w.name, shape: w.shape, dtype: w.dtype })));
    expect(hashes).toEqual(want.map((w) => w.sha256));
    expect(parsed.tensors.find((t) => t.name === "bn1.num_batches_tracked")).toMatchObject({ dtype: "I64", mergeable: false });
    expect(parsed.tensors.filter((t) => t.dtype !== "I64").every((t) => t.mergeable)).toBe(true);
  });

  it("orders layers as the state dict does: conv1, bn1, conv2", () => {
    const { parsed } = parse("net_a.pth");
    expect(parsed.layerOrderSource).toBe("STATE_DICT");
    expect(parsed.layerCount).toBe(3);
    expect(parsed.tensors.map((t) => t.layerIndex)).toEqual([0, 0, 1, 1, 1, 1, 1, 2, 2]);
  });

  it("reads legacy files (sys_info, storages with their sizes) and strips DDP's module. prefix", () => {
    expect((parse("net_a_legacy.pth").parsed.metadata as unknown as PytorchMetadata).container).toBe("legacy");
    expect((parse("net_a_ddp.pth").parsed.metadata as unknown as PytorchMetadata).strippedPrefix).toBe("module.");
  });

  it("takes mmseg's state_dict and keeps its meta, numpy scalars as numbers", () => {
    const meta = parse("mmseg_like.pth").parsed.metadata as unknown as PytorchMetadata;
    expect(meta.checkpointKey).toBe("state_dict");
    expect(meta.checkpointMeta).toEqual(expected["mmseg_like.pth.meta"]);
  });

  it("takes a named key and a named prefix", () => {
    const { parsed } = parse("mmseg_like.pth", { checkpointKey: "state_dict", stripPrefix: "bn1." });
    expect(parsed.tensors.map((t) => t.name)).toContain("running_mean");
    expect(() => parse("mmseg_like.pth", { checkpointKey: "optimizer" })).toThrow(/"optimizer" holds no tensors|not a dict of tensors/);
    expect(() => parse("mmseg_like.pth", { checkpointKey: "nope" })).toThrow(/no key "nope"; its keys: "meta", "state_dict", "optimizer"/);
    expect(() => parse("net_a.pth", { stripPrefix: "backbone." })).toThrow(/no tensor name starts with "backbone."/);
  });

  it("takes a given layer order, and another model's order without the modules this one lacks", () => {
    const given = parse("net_a.pth", { layerOrder: ["conv2", "conv1", "bn1"] }).parsed;
    expect(given.layerOrderSource).toBe("GIVEN");
    expect(given.tensors.map((t) => `${t.name}@${t.layerIndex}`).slice(0, 3)).toEqual(["conv2.weight@0", "conv2.bias@0", "conv1.weight@1"]);
    expect(() => parse("net_a.pth", { layerOrder: ["head", "conv1"] })).toThrow(/matching no tensor of this model: "head"/);
    const other = parse("net_a.pth", { layerOrder: ["head", "conv2", "conv1", "bn1"], layerOrderFromAnotherModel: true }).parsed;
    expect(other.tensors[0].name).toBe("conv2.weight");
  });

  it("refuses a non-contiguous view naming it, and a compressed tensor entry naming it", () => {
    expect(() => parse("noncontiguous.pth")).toThrow(/tensor "w_t" is a non-contiguous view/);
    expect(() => parse("compressed.pth")).toThrow(/tensor entry net_a\/data\/\d+ is compressed/);
  });

  it.each(Object.entries(expected.evil as Record<string, string>))("%s is refused naming %s", (file, global) => {
    expect(() => parse(file)).toThrow(expect.objectContaining({ code: "BAD_USER_INPUT", message: expect.stringContaining(`global ${global}`) }));
  });

  describe("container damage", () => {
    const parts = () => zipParts(new Uint8Array(fs.readFileSync(path.join(dir, "net_a.pth"))));
    const parseBytes = (bytes: Uint8Array, maxEntryBytes?: number) => parsePytorch(bufferSource(bytes), { maxEntryBytes });
    const withPickle = (edit: (pkl: Buffer) => Buffer, deflate = false) =>
      writeZip(parts().map((p) => (p.name.endsWith("data.pkl") ? { ...p, data: new Uint8Array(edit(Buffer.from(p.data))), deflate } : p)));

    it("refuses a storage offset past its data, naming the storage", () => {
      // conv1.weight: BINPERSID, then BININT1 0 (its storage offset) → 1: 108 elements from 1 of 108.
      const bytes = withPickle((pkl) => {
        const at = pkl.indexOf(Buffer.from([0x51, 0x4b, 0x00]));
        pkl[at + 2] = 1;
        return pkl;
      });
      expect(() => parseBytes(bytes)).toThrow(/a tensor \[4, 3, 3, 3\] at storage offset 1 reads past its storage "0" of 108 elements/);
    });

    it("reads a deflated data.pkl, and refuses one inflating past what it declares (a zip bomb)", () => {
      const deflated = withPickle((pkl) => pkl, true);
      expect(parseBytes(deflated).tensors).toHaveLength(9);
      // Declare 100 bytes in the central directory for the 1 kB pickle.
      const bomb = Buffer.from(deflated);
      const cd = bomb.indexOf(Buffer.from("PK\u0001\u0002", "latin1"));
      bomb.writeUInt32LE(100, cd + 24);
      expect(() => parseBytes(new Uint8Array(bomb))).toThrow(/net_a\/data\.pkl inflates beyond its declared 100 bytes/);
      expect(() => parseBytes(deflated, 512)).toThrow(/zip entry "net_a\/data\.pkl" declares \d+ bytes, over the 512-byte limit/);
    });

    it("reads Zip64 and aligned entries; refuses unsafe names and a missing storage", () => {
      expect(parseBytes(writeZip(parts(), { zip64: true, align: 64 })).tensors).toHaveLength(9);
      expect(() => parseBytes(writeZip(parts().map((p, k) => (k === 3 ? { ...p, name: "../etc/x" } : p))))).toThrow(/zip entry name "..\/etc\/x" is not a safe relative path/);
      expect(() => parseBytes(writeZip(parts().filter((p) => p.name !== "net_a/data/2")))).toThrow(/names storage "2", but the zip holds no net_a\/data\/2/);
    });
  });
});
