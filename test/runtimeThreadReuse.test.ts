/** @jest-environment ./test/support/ortEnvironment.js */
/**
 * A released inference thread is kept, idle, for the next session the process opens: starting a
 * thread and loading onnxruntime in it costs as much as a few images. The kept thread must serve
 * the next model as a fresh one would, one is kept at most, a failed thread never, and an idle
 * thread does not keep the process alive.
 */
import { spawnSync } from "child_process";
import { mkdtempSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join, resolve } from "path";
import type { Worker } from "worker_threads";
import { sessionThreads } from "../src/runtime/openSession";
import { SessionThread } from "../src/runtime/SessionThread";
import { colourNet, writeModel } from "../src/runtime/testing/evalFixtures";

let root: string;
let identity: string;
let scaled: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "lm-thread-reuse-"));
  identity = writeModel(join(root, "identity.onnx"), colourNet());
  // logits = 2 · input + (1, 2, 3) per channel, worked by hand below
  scaled = writeModel(join(root, "scaled.onnx"), colourNet({ weight: [[2, 0, 0], [0, 2, 0], [0, 0, 2]], bias: [1, 2, 3] }));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const dims = [1, 3, 1, 2];
const input = () => Float32Array.of(1, 2, 3, 4, 5, 6);

describe("the inference thread kept between sessions", () => {
  it("serves the next model, with that model's outputs", async () => {
    const first = await SessionThread.open(identity, sessionThreads(1));
    const id = first.threadId;
    expect(Array.from((await first.run("image", input(), dims, ["logits"])).logits.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
    await first.release();

    const second = await SessionThread.open(scaled, sessionThreads(1));
    try {
      expect(second.threadId).toBe(id);
      expect(second.inputNames).toEqual(["image"]);
      // channel c: 2 · x + (c + 1)
      expect(Array.from((await second.run("image", input(), dims, ["logits"])).logits.data as Float32Array)).toEqual([3, 5, 8, 10, 13, 15]);
    } finally {
      await second.release();
    }
  });

  it("keeps one thread: of two released, the second ends", async () => {
    const a = await SessionThread.open(identity, sessionThreads(1));
    const b = await SessionThread.open(identity, sessionThreads(1));
    expect(a.threadId).not.toBe(b.threadId);
    await a.release();
    await b.release();
    const c = await SessionThread.open(identity, sessionThreads(1));
    const d = await SessionThread.open(identity, sessionThreads(1));
    try {
      expect(c.threadId).toBe(a.threadId);
      expect([a.threadId, b.threadId]).not.toContain(d.threadId);
    } finally {
      await c.release();
      await d.release();
    }
  });

  it("never keeps a thread that failed", async () => {
    const broken = await SessionThread.open(identity, sessionThreads(1));
    const id = broken.threadId;
    await (broken as unknown as { thread: Worker }).thread.terminate();
    await expect(broken.run("image", input(), dims, ["logits"])).rejects.toThrow(/inference thread exited/);
    await broken.release();
    const next = await SessionThread.open(identity, sessionThreads(1));
    try {
      expect(next.threadId).not.toBe(id);
      expect(Array.from((await next.run("image", input(), dims, ["logits"])).logits.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
    } finally {
      await next.release();
    }
  });

  it("does not keep the process alive", () => {
    const repo = resolve(__dirname, "..");
    const script = `
      const { SessionThread } = require(${JSON.stringify(join(repo, "src/runtime/SessionThread.ts"))});
      const { sessionThreads } = require(${JSON.stringify(join(repo, "src/runtime/openSession.ts"))});
      (async () => {
        const s = await SessionThread.open(${JSON.stringify(identity)}, sessionThreads(1));
        await s.run("image", Float32Array.of(1, 2, 3, 4, 5, 6), [1, 3, 1, 2], ["logits"]);
        await s.release();
        console.log("released");
      })();`;
    const started = Date.now();
    const run = spawnSync(process.execPath, ["-r", join(repo, "scripts/ts-hook.js"), "-e", script], { encoding: "utf8", timeout: 25_000 });
    expect(run.stdout.trim()).toBe("released");
    expect(run.status).toBe(0);
    // the idle thread would wait 30 s; the process ends without it
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});
