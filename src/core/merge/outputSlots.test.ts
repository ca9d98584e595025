import { OutputSlots } from "./outputSlots";

describe("OutputSlots", () => {
  it("hands out slots 1..count-1 round robin, skips busy ones, and falls back to 0 when all are busy", () => {
    const slots = new OutputSlots();
    const views = [new Uint8Array(1), new Uint8Array(1), new Uint8Array(1)];
    expect(slots.free(4)).toBe(1);
    slots.handOut(1, views[0]);
    expect(slots.free(4)).toBe(2);
    slots.handOut(2, views[1]);
    expect(slots.free(4)).toBe(3);
    slots.handOut(3, views[2]);
    expect(slots.free(4)).toBe(0);
    expect(slots.giveBack(views[1])).toBe(true);
    expect(slots.free(4)).toBe(2);
    // bytes that are no slot's, or given back twice, free nothing
    expect(slots.giveBack(new Uint8Array(1))).toBe(false);
    expect(slots.giveBack(views[1])).toBe(false);
    expect(slots.free(4)).toBe(2);
  });
});
