import { KeptForReuse } from "./keptForReuse";

describe("KeptForReuse", () => {
  it("keeps one item for the next taker and ends a second one at once", () => {
    const ended: string[] = [];
    const kept = new KeptForReuse<string>(60_000, (item) => ended.push(item));
    expect(kept.take()).toBeNull();
    kept.keep("a");
    kept.keep("b");
    expect(ended).toEqual(["b"]);
    expect(kept.take()).toBe("a");
    expect(kept.take()).toBeNull();
    expect(ended).toEqual(["b"]);
  });

  it("ends an item left untaken for its idle time, and forgets one that ended by itself", async () => {
    const ended: string[] = [];
    const kept = new KeptForReuse<string>(20, (item) => ended.push(item));
    kept.keep("a");
    await new Promise((r) => setTimeout(r, 80));
    expect(ended).toEqual(["a"]);
    expect(kept.take()).toBeNull();
    kept.keep("b");
    kept.forget("c"); // not the kept one: nothing happens
    kept.forget("b");
    await new Promise((r) => setTimeout(r, 80));
    expect(ended).toEqual(["a"]); // forgotten, so not ended by the timer
    expect(kept.take()).toBeNull();
  });
});
