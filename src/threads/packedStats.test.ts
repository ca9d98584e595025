import { packStats, unpackStats } from "./packedStats";

describe("packed per-image statistics", () => {
  it("round-trip: one array, image after image, and views of it back", () => {
    const images = [Float64Array.from([1, 2, 3]), Float64Array.from([4, 5, 6])];
    const packed = packStats(images);
    expect(packed.length).toBe(3);
    expect(Array.from(packed.data)).toEqual([1, 2, 3, 4, 5, 6]);
    const back = unpackStats(packed);
    expect(back.map((x) => Array.from(x))).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(back[1].buffer).toBe(packed.data.buffer);
    expect(unpackStats(packStats([]))).toEqual([]);
  });

  it("refuses images with different numbers of statistics", () => {
    expect(() => packStats([new Float64Array(3), new Float64Array(2)])).toThrow(/image 1 has 2 statistics, image 0 3/);
  });
});
