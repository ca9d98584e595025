import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { getEventListeners } from "node:events";
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

describe("ThreadPool cancellation", () => {
  test("aborting a running thread job terminates its thread; the pool goes on with a fresh one", async () => {
    const pool = new ThreadPool(1);
    const controller = new AbortController();
    const started = Date.now();
    const running = pool.run("sleep", { ms: 5000 }, { signal: controller.signal });
    const queued = pool.run("sleep", { ms: 10 });
    setTimeout(() => controller.abort(), 200);
    await expect(running).rejects.toMatchObject({ code: "CANCELLED" });
    expect(Date.now() - started).toBeLessThan(2000);
    await expect(queued).resolves.toBe(10);
    await pool.close();
  });

  test("a thread job that ends leaves no listener on its signal (a long-lived signal serves many jobs)", async () => {
    const pool = new ThreadPool(1);
    const controller = new AbortController();
    for (let i = 0; i < 12; i++) await pool.run("sleep", { ms: 1 }, { signal: controller.signal });
    await expect(pool.run("parseModelFile", { file: path.join(os.tmpdir(), "lm-pool-no-such-file.onnx"), options: {} }, { signal: controller.signal })).rejects.toThrow();
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
    await pool.close();
  });
});
