import { DomainError } from "../errors";
import { layerPosition, resolveSchedule, scheduleValue } from "./mergeSchedule";

describe("resolveSchedule", () => {
  it("defaults to LINEAR and STEP's cutoff to 0.5", () => {
    expect(resolveSchedule(undefined)).toEqual({ kind: "LINEAR" });
    expect(resolveSchedule({ kind: "STEP" })).toEqual({ kind: "STEP", cutoff: 0.5 });
  });

  it.each([
    [{ kind: "SINE" }, /unknown schedule kind "SINE"/, "input.schedule.kind"],
    [{ kind: "STEP", cutoff: 1.5 }, /cutoff must be in \[0, 1\]/, "input.schedule.cutoff"],
    [{ kind: "LINEAR", cutoff: 0.5 }, /cutoff applies only to the STEP schedule/, "input.schedule.cutoff"],
    [{ kind: "CUSTOM", knots: [0.5] }, /at least 2 knots/, "input.schedule.knots"],
    [{ kind: "CUSTOM" }, /at least 2 knots/, "input.schedule.knots"],
    [{ kind: "CUSTOM", knots: [0, 1.2] }, /knot 1 must be in \[0, 1\]/, "input.schedule.knots.1"],
    [{ kind: "COSINE", knots: [0, 1] }, /knots apply only to the CUSTOM schedule/, "input.schedule.knots"],
  ])("rejects %j", (input, message, field) => {
    try {
      resolveSchedule(input);
      throw new Error("expected a DomainError");
    } catch (e) {
      expect(e).toBeInstanceOf(DomainError);
      expect((e as DomainError).code).toBe("BAD_USER_INPUT");
      expect((e as DomainError).message).toMatch(message);
      expect((e as DomainError).field).toBe(field);
    }
  });
});

describe("scheduleValue", () => {
  it("places layers at t = l / (L − 1), and t = 1 for a single layer", () => {
    expect([0, 1, 2, 3].map((l) => layerPosition(l, 4))).toEqual([0, 1 / 3, 2 / 3, 1]);
    expect(layerPosition(0, 1)).toBe(1);
  });

  it("computes each kind by hand", () => {
    expect(scheduleValue({ kind: "LINEAR" }, 0.25)).toBe(0.25);
    expect(scheduleValue({ kind: "UNIFORM" }, 0.9)).toBe(0);
    // STEP: [t ≥ cutoff], the cutoff itself included
    expect([0.49, 0.5, 0.51].map((t) => scheduleValue({ kind: "STEP", cutoff: 0.5 }, t))).toEqual([0, 1, 1]);
    // COSINE: (1 − cos(π/2))/2 = 1/2; (1 − cos(π/3))/2 = (1 − 1/2)/2 = 1/4; t = 1 → (1 + 1)/2 = 1
    expect(scheduleValue({ kind: "COSINE" }, 0.5)).toBeCloseTo(0.5, 15);
    expect(scheduleValue({ kind: "COSINE" }, 1 / 3)).toBeCloseTo(0.25, 15);
    expect(scheduleValue({ kind: "COSINE" }, 1)).toBe(1);
  });

  it("interpolates CUSTOM knots linearly over evenly spaced t", () => {
    const s = { kind: "CUSTOM" as const, knots: [0.2, 0.5, 0.6, 1] }; // knots at t = 0, 1/3, 2/3, 1
    expect(scheduleValue(s, 0)).toBe(0.2);
    expect(scheduleValue(s, 1)).toBe(1);
    // t = 1/6 is halfway between knots 0 and 1: (0.2 + 0.5)/2 = 0.35
    expect(scheduleValue(s, 1 / 6)).toBeCloseTo(0.35, 15);
    // t = 0.5 is halfway between knots 1 and 2: (0.5 + 0.6)/2 = 0.55
    expect(scheduleValue(s, 0.5)).toBeCloseTo(0.55, 15);
    // t = 5/6: halfway between 0.6 and 1 → 0.8
    expect(scheduleValue(s, 5 / 6)).toBeCloseTo(0.8, 15);
  });
});
