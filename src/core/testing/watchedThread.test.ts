import * as path from "node:path";
import { runWatched } from "./watchedThread";

const fixture = path.join(__dirname, "watchedThread.fixture.ts");

describe("runWatched", () => {
  it("returns the function's result", async () => {
    // 0 + 1 + … + 999
    await expect(runWatched(fixture, "count", { n: 1000 }, 20_000)).resolves.toBe(499500);
  });

  it("cuts off a function that stops reporting, naming its last report", async () => {
    await expect(runWatched(fixture, "spin", { after: 3 }, 1500)).rejects.toThrow("no progress for 1500 ms after: item 2");
  });

  it("passes on the function's error", async () => {
    await expect(runWatched(fixture, "fail", {}, 20_000)).rejects.toThrow(/the function failed/);
  });
});
