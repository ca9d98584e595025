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

  test("an unreachable database is one clear line", async () => {
    const result = await run(["serve"], { DATABASE_URL: "postgresql://postgres@127.0.0.1:1/none", PORT: "0" });
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(/cannot reach PostgreSQL at postgresql:\/\/postgres@127\.0\.0\.1:1\/none: /);
  });
});
