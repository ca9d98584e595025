import { PanopticQuality, panopticFromLabelMap, postprocessPanopticDeepLab } from "./index";

describe("panoptic pipeline: post-processing → segments → PQ", () => {
  it("scores a Panoptic-DeepLab output against hand-made ground truth", () => {
    // classes: 0 road, 2 sky (stuff); 1 car, 3 person (things); 5×7 image
    const H = 5;
    const W = 7;
    // prettier-ignore
    const sem = Uint8Array.of(
      2, 2, 2, 2, 2, 2, 2,
      2, 1, 1, 0, 3, 3, 2,
      0, 1, 1, 0, 3, 3, 0,
      0, 0, 0, 0, 0, 0, 0,
      0, 0, 0, 0, 0, 0, 0,
    );
    const center = new Float32Array(H * W);
    center[1 * W + 1] = 0.9;
    center[2 * W + 5] = 0.8;
    const pred = postprocessPanopticDeepLab({ height: H, width: W, semantic: { classIds: sem }, center, offsets: new Float32Array(2 * H * W) }, new Set([1, 3]), { nmsKernel: 3 });

    // ground truth in the same encoding, except that pixel (1,3) belongs to the person:
    // person 5 px vs predicted 4 → IoU 4/5; road 17 px vs predicted 18 → IoU 17/18; car, sky exact
    const gtMap = Int32Array.from(pred.panoptic);
    gtMap[1 * W + 3] = 3001;
    const categories = [0, 1, 2, 3].map((id) => ({ id, isThing: id === 1 || id === 3 }));
    const pq = new PanopticQuality(categories).addImage(panopticFromLabelMap(gtMap, { labelDivisor: 1000 }), panopticFromLabelMap(pred.panoptic, { labelDivisor: 1000 }));
    const r = pq.result();
    expect(r.things.pq).toBeCloseTo((1 + 4 / 5) / 2, 12);
    expect(r.stuff.pq).toBeCloseTo((17 / 18 + 1) / 2, 12);
    expect(r.all.pq).toBeCloseTo((17 / 18 + 1 + 1 + 4 / 5) / 4, 12);
    expect(r.all.rq).toBe(1);
  });
});
