import { resizeArgmax } from "../../core/eval";
import { agreementStats } from "../../core/search";
import { prng } from "../../core/testing/prng";
import { reduceOutput } from "./outputReduction";

/*
 * Agreement statistics of scores below the image's size are counted row by row as the class map
 * is resized: the same counts as core's resizeArgmax (the plain per-pixel resize) followed by
 * agreementStats over the whole map, with ignored pixels and 8- and 16-bit references.
 */
describe("reduceOutput: agreement of resized scores", () => {
  it.each([
    [5, 32, 32, 64, 64, false],
    [19, 9, 13, 40, 52, true],
    [3, 7, 5, 7, 11, false],
  ])("%i classes, %i×%i scores for a %i×%i image (16-bit reference: %s)", (classes, h, w, H, W, wide) => {
    const random = prng(classes * 31 + H);
    const data = Float32Array.from({ length: classes * h * w }, () => random() * 4 - 2);
    const ref = wide ? new Uint16Array(H * W) : new Uint8Array(H * W);
    for (let i = 0; i < ref.length; i++) ref[i] = random() < 0.1 ? 255 : Math.floor(random() * classes);
    const got = reduceOutput({ kind: "scores", map: { data, channels: classes, height: h, width: w } }, { kind: "agreement", height: H, width: W, classes, reference: ref, ignoreIndex: 255 });
    const expected = agreementStats(resizeArgmax(data, classes, h, w, H, W), ref, classes, 255);
    expect(Array.from(got)).toEqual(Array.from(expected));
    expect(got[classes]).toBeGreaterThan(0);
  });

  it("refuses a reference of the wrong size", () => {
    const data = new Float32Array(2 * 2 * 2);
    expect(() => reduceOutput({ kind: "scores", map: { data, channels: 2, height: 2, width: 2 } }, { kind: "agreement", height: 4, width: 4, classes: 2, reference: new Uint8Array(15), ignoreIndex: 255 })).toThrow(/reference of 15 pixels/);
  });
});
