import { readFileSync } from "fs";
import { join } from "path";
import { channelNormalization, normalizationTable, normalizeSample, type NormalizationName } from "./normalization";
import { preprocessImage } from "./preprocessImage";

// Written by fixtures/make_normalization_fixtures.py: numpy float32 (DIVIDE) and OpenCV through
// mmcv's two imnormalize calls (MMCV), float32 bit patterns [channel][value 0..255].
interface NormalizationFixtures {
  sets: Array<{ name: string; mean: number[]; std: number[]; DIVIDE: number[][]; MMCV: number[][] }>;
}
const fx: NormalizationFixtures = JSON.parse(readFileSync(join(__dirname, "fixtures", "normalization_fixtures.json"), "utf8"));
const CONVENTIONS: NormalizationName[] = ["DIVIDE", "MMCV"];

/** The float32 bit patterns of a float32 array. */
const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

/** A 16 × 16 image whose pixel i holds value i in every channel (HWC, `channels` per pixel). */
function ramp(channels: number): { width: number; height: number; channels: number; data: Uint8Array } {
  const data = new Uint8Array(256 * channels);
  for (let i = 0; i < 256; i++) data.fill(i, i * channels, (i + 1) * channels);
  return { width: 16, height: 16, channels, data };
}

describe("normalisation conventions (fixtures from numpy float32 and OpenCV)", () => {
  it("covers the sets the script writes, where the two conventions really differ", () => {
    expect(fx.sets.map((s) => s.name)).toEqual(["mmseg-imagenet", "torchvision-x255", "half-range", "caffe-bgr", "uneven"]);
    // mmseg's ImageNet set: DIVIDE and MMCV disagree on a fair share of the 768 values
    const s = fx.sets[0];
    const differing = s.DIVIDE.flat().filter((b, i) => b !== s.MMCV.flat()[i]).length;
    expect(differing).toBeGreaterThan(50);
  });

  it.each(CONVENTIONS)("normalizationTable(%s) equals the fixture bit for bit on all 256 values", (conv) => {
    for (const s of fx.sets) {
      for (let c = 0; c < 3; c++) expect({ set: s.name, c, bits: bits(normalizationTable(s.mean[c], s.std[c], conv)) }).toEqual({ set: s.name, c, bits: s[conv][c] });
    }
  });

  it.each(CONVENTIONS)("preprocessImage (core, %s) equals the fixture bit for bit, RGB and BGR, 3 and 4 channels", (conv) => {
    for (const s of fx.sets) {
      for (const [order, channels] of [["RGB", 3], ["BGR", 3], ["RGB", 4]] as const) {
        const out = preprocessImage(ramp(channels), { width: 16, height: 16, channelOrder: order, mean: s.mean, std: s.std, normalization: conv });
        // the ramp is the same in every channel, so the channel order only selects the plane's mean/std
        for (let c = 0; c < 3; c++) expect({ set: s.name, order, channels, c, bits: bits(out.subarray(c * 256, (c + 1) * 256)) }).toEqual({ set: s.name, order, channels, c, bits: s[conv][c] });
      }
    }
  });

  it("preprocessImage defaults to DIVIDE (absent or null)", () => {
    const s = fx.sets[0];
    for (const normalization of [undefined, null]) {
      const out = preprocessImage(ramp(3), { width: 16, height: 16, channelOrder: "RGB", mean: s.mean, std: s.std, normalization });
      expect(bits(out)).toEqual(s.DIVIDE.flat());
    }
  });

  it("rounds as each reference does, on values worked by hand", () => {
    // DIVIDE, x = 0, mean 0.1, std 0.3: fround(0.1) = 0.100000001490116…, fround(0.3) = 0.300000011920928…;
    // −fround(0.1) / fround(0.3) = −0.333333325…, whose nearest float32 is −0.333333313… (bits 0xBEAAAAAA;
    // the neighbour 0xBEAAAAAB is −0.333333343…), where the float64 (0 − 0.1) · (1 / 0.3) = −0.333333333…
    // rounds to 0xBEAAAAAB.
    const u = new Uint32Array(new Float32Array([normalizeSample(0, channelNormalization(0.1, 0.3, "DIVIDE"))]).buffer);
    expect(u[0].toString(16)).toBe("beaaaaaa");
    // MMCV on the same value: −fround(0.1) · (1/0.3 in float64) = −0.333333338…, nearest float32 0xBEAAAAAB.
    const v = new Uint32Array(new Float32Array([normalizeSample(0, channelNormalization(0.1, 0.3, "MMCV"))]).buffer);
    expect(v[0].toString(16)).toBe("beaaaaab");
    // and the fixture agrees (set "uneven", channel 0, value 0)
    const uneven = fx.sets.find((s) => s.name === "uneven")!;
    expect([uneven.DIVIDE[0][0], uneven.MMCV[0][0]]).toEqual([0xbeaaaaaa, 0xbeaaaaab]);
  });

  it("rejects an unknown convention, naming the field", () => {
    const s = fx.sets[0];
    expect(() => preprocessImage(ramp(3), { width: 16, height: 16, channelOrder: "RGB", mean: s.mean, std: s.std, normalization: "TORCH" as NormalizationName })).toThrow(/normalization must be DIVIDE or MMCV/);
  });
});
