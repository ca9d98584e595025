import * as fs from "node:fs";
import * as path from "node:path";
import { judgePytorch } from "./judgePytorch";
import { writeZip, zipParts } from "./zipParts";

/** The judge itself: torch.save's files are valid, each rule's breach is not. */
const read = (f: string) => new Uint8Array(fs.readFileSync(path.join(__dirname, "..", "fixtures", f)));

describe("judgePytorch", () => {
  it.each(["net_a.pth", "net_a_legacy.pth", "net_a_ddp.pth", "mmseg_like.pth", "half.pth", "noncontiguous.pth"])("finds torch.save's %s valid", (f) => {
    expect(judgePytorch(read(f))).toEqual({ valid: true });
  });

  it("finds forbidden globals, compressed tensors, missing storages and cut files invalid", () => {
    expect(judgePytorch(read("evil_system.pth"))).toEqual({ valid: false, reason: "global posix.system not allowed" });
    expect(judgePytorch(read("evil_eval.pth")).valid).toBe(false);
    expect(judgePytorch(read("compressed.pth"))).toMatchObject({ valid: false, reason: expect.stringContaining("compressed") });
    const parts = zipParts(read("net_a.pth"));
    expect(judgePytorch(writeZip(parts.filter((p) => p.name !== "net_a/data/3")))).toMatchObject({ valid: false, reason: expect.stringContaining("missing storage 3") });
    expect(judgePytorch(writeZip(parts.map((p) => (p.name === "net_a/data/0" ? { ...p, data: p.data.subarray(0, 100) } : p))))).toMatchObject({ valid: false });
    expect(judgePytorch(read("net_a_legacy.pth").subarray(0, 1000)).valid).toBe(false);
    expect(judgePytorch(writeZip(parts, { zip64: true, align: 64 }))).toEqual({ valid: true });
  });
});
