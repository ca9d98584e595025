import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ThreadPool } from "./threadPool";

describe("ThreadPool", () => {
  const pool = new ThreadPool(1);
  afterAll(() => pool.close());

  test("CPU-bound work runs off the caller's event loop", async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const result = await pool.run("sleep", { ms: 300 });
    clearInterval(timer);
    expect(result).toBe(300);
    // A blocked loop would have ticked at most once.
    expect(ticks).toBeGreaterThanOrEqual(10);
  });

  test("DomainErrors come back with their code and field", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-pool-"));
    const empty = path.join(dir, "empty.onnx");
    fs.writeFileSync(empty, "");
    await expect(pool.run("parseModelFile", { file: empty, options: {} })).rejects.toMatchObject({ code: "BAD_USER_INPUT", message: expect.stringMatching(/empty/) });
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
