import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const BIN = path.join(__dirname, "..", "bin", "layermerge.js");

function run(args: string[], env: Record<string, string>, untilOutput?: RegExp): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, LOG_LEVEL: "silent", ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => {
      stderr += d;
      if (untilOutput && untilOutput.test(stderr)) child.kill("SIGTERM");
    });
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

// These run the compiled CLI (dist/), which `npm install` / `npm ci` build.
describe("layermerge serve (compiled CLI)", () => {
  test("invalid configuration stops start-up with one line saying what is wrong", async () => {
    const result = await run(["serve"], { PORT: "not-a-port" });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe('layermerge: PORT must be an integer from 0 to 65535 (got "not-a-port")');
  });

  test("starts on an embedded SQLite file, applying migrations by itself, and stops on SIGTERM", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "layermerge-start-"));
    try {
      const result = await run(["serve"], { LAYERMERGE_DATA_DIR: dir, PORT: "0" }, /serving GraphQL at/);
      expect(result.stderr).toMatch(/serving GraphQL at http:\/\/127\.0\.0\.1:\d+\/graphql \(auth off\)/);
      expect(result.code).toBe(0);
      expect(fs.existsSync(path.join(dir, "layermerge.db"))).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("auth off on a non-loopback HOST: refused with one line, before anything is opened", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "layermerge-open-"));
    try {
      for (const host of ["0.0.0.0", "::"]) {
        const result = await run(["serve"], { LAYERMERGE_DATA_DIR: dir, PORT: "0", HOST: host, LAYERMERGE_AUTH: "off", LAYERMERGE_ALLOW_OPEN: "" }, /serving GraphQL at/);
        expect(result.code).toBe(1);
        expect(result.stderr.trim().split("\n")).toHaveLength(1);
        expect(result.stderr).toContain(`layermerge: refusing to serve without authentication on ${host}`);
        expect(result.stderr).toMatch(/LAYERMERGE_AUTH=writes or all.*LAYERMERGE_ALLOW_OPEN=1/);
      }
      expect(fs.readdirSync(dir)).toEqual([]); // no database was created
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("LAYERMERGE_ALLOW_OPEN=1 serves anyway, with one warning line at start; auth writes needs no permission", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "layermerge-open-"));
    try {
      const open = await run(["serve"], { LAYERMERGE_DATA_DIR: dir, PORT: "0", HOST: "0.0.0.0", LAYERMERGE_AUTH: "off", LAYERMERGE_ALLOW_OPEN: "1", LOG_LEVEL: "warn" }, /serving GraphQL at/);
      expect(open.code).toBe(0);
      expect(open.stderr).toMatch(/serving GraphQL at http:\/\/0\.0\.0\.0:\d+\/graphql \(auth off\)/);
      const warnings = open.stdout.trim().split("\n").filter(Boolean).map((line) => JSON.parse(line));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ level: 40, host: "0.0.0.0", auth: "off" });
      expect(warnings[0].msg).toMatch(/without authentication on 0\.0\.0\.0/);

      const guarded = await run(["serve"], { LAYERMERGE_DATA_DIR: dir, PORT: "0", HOST: "0.0.0.0", LAYERMERGE_AUTH: "writes", LAYERMERGE_ALLOW_OPEN: "", LOG_LEVEL: "warn" }, /serving GraphQL at/);
      expect(guarded.code).toBe(0);
      expect(guarded.stderr).toMatch(/\(auth writes\)/);
      expect(guarded.stdout).toBe("");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("an unreachable database is one clear line", async () => {
    const result = await run(["serve"], { DATABASE_URL: "postgresql://postgres@127.0.0.1:1/none", PORT: "0" });
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(/cannot reach PostgreSQL at postgresql:\/\/postgres@127\.0\.0\.1:1\/none: /);
  });
});
