import { PreprocessedInputs } from "./searchSession";

/*
 * A search image's preprocessed input is kept per image and preprocessing: the values are the
 * ones worked out here by hand ((x / 255 − mean / 255) / (std / 255) is (x − mean) / std), a
 * second preprocessing of the same image is its own entry, and the bounds in bytes and sets hold.
 */
describe("preprocessed search inputs", () => {
  // a 2×1 RGB image: pixels (0, 128, 255) and (10, 20, 30)
  const pixels = (id?: string) => ({ id, width: 2, height: 1, channels: 3, data: Uint8Array.from([0, 128, 255, 10, 20, 30]) });
  const plain = { width: 2, height: 1, channelOrder: "RGB" as const, mean: [0, 0, 0], std: [1, 1, 1] };
  const shifted = { ...plain, channelOrder: "BGR" as const, mean: [10, 20, 30], std: [2, 2, 2] };

  it("returns the preprocessing's values, the same array for the same image and preprocessing, another for another", () => {
    const cache = new PreprocessedInputs();
    const a = cache.get(pixels("set-1/0"), plain);
    // planar CHW: R plane, G plane, B plane
    expect(Array.from(a)).toEqual([0, 10, 128, 20, 255, 30]);
    expect(cache.get(pixels("set-1/0"), plain)).toBe(a);
    const b = cache.get(pixels("set-1/0"), shifted);
    // BGR order: B plane (255 − 10, 30 − 10) / 2, G plane (128 − 20, 20 − 20) / 2, R plane (0 − 30, 10 − 30) / 2
    expect(Array.from(b)).toEqual([122.5, 10, 54, 0, -15, -10]);
    expect(b).not.toBe(a);
    expect(cache.heldBytes).toBe(2 * 6 * 4);
    // another image of the set, and an image without an id (a perturbed copy's pixels): never kept
    expect(cache.get(pixels("set-1/1"), plain)).not.toBe(a);
    expect(cache.get(pixels(), plain)).not.toBe(cache.get(pixels(), plain));
    expect(cache.heldBytes).toBe(3 * 6 * 4);
    cache.clear();
  });

  it("admits inputs up to its byte bound and then keeps them; drops the least recently used set beyond its set bound", () => {
    const cache = new PreprocessedInputs(2 * 6 * 4, 2);
    const first = cache.get(pixels("s1/0"), plain);
    cache.get(pixels("s1/1"), plain);
    const over = cache.get(pixels("s1/2"), plain);
    expect(cache.heldBytes).toBe(2 * 6 * 4);
    expect(cache.get(pixels("s1/2"), plain)).not.toBe(over); // not admitted
    expect(cache.get(pixels("s1/0"), plain)).toBe(first); // still kept
    cache.get(pixels("s2/0"), plain); // a second set: nothing to admit it into, s1 kept
    expect(cache.get(pixels("s1/0"), plain)).toBe(first);
    cache.get(pixels("s3/0"), plain); // a third set: s2, used least recently, goes; s1 stays
    expect(cache.get(pixels("s1/0"), plain)).toBe(first);
    cache.get(pixels("s4/0"), plain); // now s3 goes
    cache.get(pixels("s5/0"), plain); // and s1 (s4 was used after it)
    expect(cache.get(pixels("s1/0"), plain)).not.toBe(first);
    cache.clear();
  });
});

describe("preprocessed search inputs, unused", () => {
  it("are let go once nothing has asked for them for the idle time", async () => {
    const cache = new PreprocessedInputs(1 << 20, 2, 50);
    const image = { id: "s/0", width: 1, height: 1, channels: 3, data: Uint8Array.from([1, 2, 3]) };
    const options = { width: 1, height: 1, channelOrder: "RGB" as const, mean: [0, 0, 0], std: [1, 1, 1] };
    const a = cache.get(image, options);
    await new Promise((r) => setTimeout(r, 30));
    expect(cache.get(image, options)).toBe(a); // used again within the idle time
    expect(cache.heldBytes).toBe(12);
    await new Promise((r) => setTimeout(r, 200));
    expect(cache.heldBytes).toBe(0);
    expect(cache.get(image, options)).not.toBe(a);
    cache.clear();
  });
});
