import { candidateKey, prepareMixes, preparedCandidateKey, type TensorMix } from "./candidateKey";
import { prng } from "../testing/prng";

/*
 * The prepared path must give candidateKey's key, byte for byte: keys written by either are
 * compared (a search's plan is keyed by one, its later generations by the other).
 */
describe("prepared candidate keys", () => {
  it("equal candidateKey's over random plans: tensor order, zero weights, weights equal to 12 digits, any model ids", () => {
    const random = prng(7);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
    const ids = ["m-b", "m-a", "m10", "m9", "Z", "a"];
    for (let round = 0; round < 300; round++) {
      const inputs = 1 + Math.floor(random() * 4);
      const tensors = Array.from({ length: 1 + Math.floor(random() * 40) }, (_, t) => ({
        name: pick(["backbone", "head", "Head", "decode.0", "decode.10", "decode.2", "a.b", "a_b"]) + `.${Math.floor(random() * 5)}.${t % 3 ? "weight" : "bias"}`,
        parts: Array.from({ length: 1 + Math.floor(random() * inputs) }, (_, k) => ({
          index: k,
          // a zero, values that round to the same 12 digits, thirds, tiny and large ones
          weight: pick([0, 1 / 3, 1 / 3 + 1e-15, 0.25, 1, 2.5e-7, 123456.789, random()]),
        })),
      }));
      const modelIds = [...ids].sort(() => random() - 0.5).slice(0, inputs);
      const mixes: TensorMix[] = tensors.map((t) => ({ name: t.name, parts: t.parts.map((p) => ({ modelId: modelIds[p.index]!, weight: p.weight })) }));
      const method = pick(["", "TIES [[\"density\",0.2]] base=b"]);
      expect(preparedCandidateKey("S1", method, prepareMixes(tensors), modelIds)).toBe(candidateKey("S1", method, mixes));
    }
  });

  it("a prepared plan serves every candidate that shares it: other models in the same places, other keys", () => {
    const tensors = [{ name: "w", parts: [{ index: 0, weight: 0.5 }, { index: 1, weight: 0.5 }] }];
    const prepared = prepareMixes(tensors);
    const ab = preparedCandidateKey("S", "", prepared, ["a", "b"]);
    expect(preparedCandidateKey("S", "", prepared, ["b", "a"])).toBe(ab); // a soup is a soup whichever anchors it
    expect(preparedCandidateKey("S", "", prepared, ["a", "c"])).not.toBe(ab);
    expect(ab).toBe(candidateKey("S", "", [{ name: "w", parts: [{ modelId: "b", weight: 0.5 }, { modelId: "a", weight: 0.5 }] }]));
  });
});
