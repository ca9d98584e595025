import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/*
 * Cancelling a thread job that runs onnxruntime (an evaluation, a merge search's candidate) must
 * stop it without ending the process: a worker thread terminated while onnxruntime runs aborts
 * the whole process ("terminate called after throwing an instance of 'Napi::Error'"), which took
 * a BullMQ worker down with a cancelled merge search. The scenario runs in a process of its own.
 */
describe("cancelling native work on the thread pool", () => {
  jest.setTimeout(180_000);
  let dir = "";
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-native-cancel-"));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test("an evaluation cancelled mid-image stops at the image's end; the pool goes on; close() mid-image ends the process normally", () => {
    const root = path.join(__dirname, "..");
    const child = spawnSync(process.execPath, ["-r", "./scripts/ts-hook", path.join("test", "support", "nativeCancelChild.ts"), dir], { cwd: root, encoding: "utf8", timeout: 150_000 });
    // An abort shows as signal SIGABRT (status null) and the Napi::Error on stderr.
    expect({ status: child.status, signal: child.signal, stderr: child.stderr.includes("terminate called") ? child.stderr : "" }).toEqual({ status: 0, signal: null, stderr: "" });
    const seen = JSON.parse(child.stdout.trim().split("\n").pop()!);
    expect(seen.cancel).toBe("CANCELLED");
    // Stopped at the image it was in (six images, cancelled after the first): no further image reported.
    expect(seen.imagesAfterCancel).toBe(0);
    expect(seen.next).toBe("evaluated");
    expect(seen.closed).toMatch(/cancelled|pool thread died/);
  });
});
