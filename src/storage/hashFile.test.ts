import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import { hashFileSync } from "./hashFile";

describe("hashFileSync", () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-hash-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("gives the FIPS 180-2 digest of \"abc\" and of an empty file", () => {
    const abc = path.join(dir, "abc");
    fs.writeFileSync(abc, "abc");
    expect(hashFileSync(abc)).toEqual({ sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", sizeBytes: 3 });
    const empty = path.join(dir, "empty");
    fs.writeFileSync(empty, "");
    expect(hashFileSync(empty)).toEqual({ sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", sizeBytes: 0 });
  });

  it("agrees with coreutils' sha256sum on a file spanning several read chunks", () => {
    const file = path.join(dir, "big");
    const bytes = Buffer.alloc((9 << 20) + 12345);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
    fs.writeFileSync(file, bytes);
    const expected = execFileSync("sha256sum", [file], { encoding: "utf8" }).split(" ")[0];
    expect(hashFileSync(file)).toEqual({ sha256: expected, sizeBytes: bytes.length });
  });
});
