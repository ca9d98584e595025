import * as fs from "node:fs";
import * as path from "node:path";
import { createHash } from "node:crypto";
import { databaseKinds } from "./support/testDatabase";
import { startTestServer, TestServer } from "./support/testServer";
import { seedBasics } from "./support/fixtures";
import { upload } from "./support/http";
import { prng } from "../src/core/testing/prng";
import { fuzzSeeds, mutateOnnx } from "../src/core/formats/onnx/testing/fuzzOnnx";
import { judgeOnnx } from "../src/core/formats/onnx/testing/judgeOnnx";
import { fuzzBases, mutateSafetensors } from "../src/core/formats/safetensors/testing/fuzzSafetensors";
import { judgeSafetensors } from "../src/core/formats/safetensors/testing/judgeSafetensors";
import { writeSafetensors } from "../src/core/formats/safetensors/testing/writeSafetensors";
import { fuzzBases as pytorchBases, mutatePytorch } from "../src/core/formats/pytorch/testing/fuzzPytorch";
import { judgePytorch } from "../src/core/formats/pytorch/testing/judgePytorch";

/**
 * Mutated files through the whole path a client takes — PUT /artifacts, then registerModel over
 * HTTP on a real server — 150 of each format (ONNX, safetensors, PyTorch checkpoints). A refused registration must answer BAD_USER_INPUT
 * and leave nothing behind: no Artifact row and no blob (nor scratch file) in the store. An
 * accepted one must be valid by the independent judge of the format the server detected.
 */
const PER_FORMAT = 150;
const REGISTER = `mutation($i: RegisterModelInput!) { registerModel(input: $i) { id artifact { sha256 format } } }`;

describe.each(databaseKinds)("mutated files through upload and registration (%s)", (kind) => {
  let server: TestServer;
  let taskId: string;

  beforeAll(async () => {
    server = await startTestServer(kind, { LAYERMERGE_MAX_UPLOAD_BYTES: String(1 << 20) });
    taskId = (await seedBasics(server)).task.id;
  });
  afterAll(async () => {
    await server.stop();
  });

  const storeRoot = () => path.join(server.db.dataDir, "artifacts");
  const blobPath = (sha: string) => path.join(storeRoot(), sha.slice(0, 2), sha.slice(2, 4), sha);
  /** Every file in the store, the scratch folder included, as paths relative to its root. */
  const storedFiles = () => {
    const out: string[] = [];
    const walk = (dir: string) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory()) walk(path.join(dir, e.name));
        else out.push(path.relative(storeRoot(), path.join(dir, e.name)));
      }
    };
    walk(storeRoot());
    return out.sort();
  };
  const artifactRow = (sha: string) => server.app.services.database.prisma.artifact.findUnique({ where: { sha256: sha } });

  async function attempt(bytes: Uint8Array, name: string) {
    const sha = createHash("sha256").update(bytes).digest("hex");
    const up = await upload(server.origin, bytes);
    expect({ name, status: up.status }).toEqual({ name, status: 201 });
    const result = await server.gql(REGISTER, { i: { taskId, name, artifactSha256: sha } });
    return { sha, result };
  }

  test("the corruptions that once merged garbage are refused naming the byte range, leaving nothing", async () => {
    const values = new Uint8Array(new Float32Array(Array.from({ length: 16 }, (_, i) => i)).buffer);
    const good = writeSafetensors([{ name: "a.w", dtype: "F32", shape: [4] }, { name: "b.w", dtype: "F32", shape: [16], data: values }]);
    const dataStart = 8 + Number(Buffer.from(good).readBigUInt64LE(0));
    const spliced = Buffer.concat([good.subarray(0, dataStart + 16), Buffer.alloc(8, 0x5a), good.subarray(dataStart + 16)]);
    const appended = Buffer.concat([good, Buffer.alloc(1000, 0x5a)]);
    const before = storedFiles();
    for (const [label, bytes, end] of [["spliced", spliced, 88], ["appended", appended, 1080]] as const) {
      const { sha, result } = await attempt(bytes, `corrupt-${label}`);
      expect(result.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
      expect(result.errors?.[0].message).toContain(`data bytes [80, ${end}) (file bytes [${dataStart + 80}, ${dataStart + end}))`);
      expect(await artifactRow(sha)).toBeNull();
    }
    expect(storedFiles()).toEqual(before);
    const ok = await attempt(good, "uncorrupted");
    expect(ok.result.errors).toBeUndefined();
  });

  test(`${3 * PER_FORMAT} mutated files: refused ones leave no row and no blob, accepted ones are valid`, async () => {
    const random = prng(0x0f1ee7);
    const bases = fuzzBases();
    const seeds = fuzzSeeds();
    const checkpoints = pytorchBases();
    const files: Array<{ label: string; bytes: Uint8Array }> = [];
    for (let k = 0; k < PER_FORMAT; k++) {
      const s = mutateSafetensors(bases[k % bases.length]!, random);
      files.push({ label: `safetensors #${k} (${s.kind}: ${s.how})`, bytes: s.bytes });
      const o = mutateOnnx(seeds[k % seeds.length]!, random);
      files.push({ label: `onnx #${k} (${o.kind}: ${o.how})`, bytes: o.bytes });
      const p = mutatePytorch(checkpoints[k % checkpoints.length]!, random);
      files.push({ label: `pytorch #${k} (${p.kind}: ${p.how})`, bytes: p.bytes });
    }
    const outcome = { accepted: 0, refused: 0 };
    const problems: string[] = [];
    // Distinct contents only (two identical files would race for one blob), four at a time.
    const seen = new Set<string>();
    const distinct = files.filter(({ bytes }) => {
      const sha = createHash("sha256").update(bytes).digest("hex");
      // An empty body is not an upload; mutations that empty a file are covered in-process.
      if (bytes.length === 0 || seen.has(sha)) return false;
      seen.add(sha);
      return true;
    });
    expect(distinct.length).toBeGreaterThan(0.9 * files.length);
    let next = 0;
    const lane = async () => {
      for (let k = next++; k < distinct.length; k = next++) {
        const { label, bytes } = distinct[k]!;
        const { sha, result } = await attempt(bytes, `fuzz-${k}`);
        const row = await artifactRow(sha);
        const blob = fs.existsSync(blobPath(sha));
        if (result.errors) {
          outcome.refused++;
          const code = result.errors[0]?.extensions?.code;
          if (code !== "BAD_USER_INPUT") problems.push(`${label}: ${code} ${result.errors[0]?.message}`);
          if (row) problems.push(`${label}: refused, but an Artifact row remains`);
          if (blob) problems.push(`${label}: refused, but its blob remains`);
        } else {
          outcome.accepted++;
          const format = result.data.registerModel.artifact.format;
          const verdict = format === "onnx" ? judgeOnnx(bytes) : format === "pytorch" ? judgePytorch(bytes) : judgeSafetensors(bytes);
          if (!verdict.valid) problems.push(`${label}: registered as ${format} but invalid: ${verdict.reason}`);
          if (!row || !blob) problems.push(`${label}: registered without ${row ? "its blob" : "an Artifact row"}`);
        }
      }
    };
    await Promise.all([lane(), lane(), lane(), lane()]);
    expect(problems).toEqual([]);
    // Nothing else in the store: every blob belongs to an Artifact row, no scratch file remains.
    const rows = await server.app.services.database.prisma.artifact.findMany({ select: { storageKey: true } });
    expect(storedFiles()).toEqual(rows.map((r) => path.relative(storeRoot(), blobPath(r.storageKey))).sort());
    expect(outcome.accepted).toBeGreaterThan(30);
    expect(outcome.refused).toBeGreaterThan(150);
  });
});
