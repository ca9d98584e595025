import { dropStreamKey, dropStreamWord, dropThreshold } from "../dropMask";
import type { FloatArray } from "../floatArrays";
import { chunkwise, defineMethod, FLOAT_DTYPES, ONE_PASS } from "./mergeMethod";
import { applyTaskVector, LAMBDA } from "./taskVector";

/**
 * acc += w · m_i · (x − base) / (1 − p), with m_i = 0 when element `start + i` of this model's
 * drop stream falls under the threshold (dropMask.ts). The survivor scale 1/(1 − p) is rounded
 * once to the working precision, then multiplied per element.
 */
export function addWeightedDroppedDelta(
  acc: FloatArray,
  x: FloatArray,
  base: FloatArray,
  w: number,
  drop: { key: number; threshold: number; scale: number; start: number },
): void {
  const n = acc.length;
  const { key, threshold, start } = drop;
  if (acc instanceof Float32Array) {
    const w32 = Math.fround(w);
    const scale = Math.fround(drop.scale);
    for (let i = 0; i < n; i++) {
      if (dropStreamWord(key, start + i) < threshold) continue;
      acc[i] += Math.fround(w32 * Math.fround(Math.fround(x[i] - base[i]) * scale));
    }
  } else {
    for (let i = 0; i < n; i++) {
      if (dropStreamWord(key, start + i) < threshold) continue;
      acc[i] += w * ((x[i] - base[i]) * drop.scale);
    }
  }
}

/**
 * Drop and rescale, then task arithmetic (arXiv 2311.03099). The drops come from a counter-based
 * stream keyed by seed, tensor and model, so any chunk can be merged on its own.
 */
export const dare = defineMethod({
  name: "DARE",
  title: "DARE (drop and rescale)",
  description:
    "Drops each task-vector entry with probability p and rescales the survivors by 1/(1 − p), then adds them as task arithmetic does.",
  paper: { arxiv: "2311.03099", title: "Language Models are Super Mario: Absorbing Abilities from Homologous Models as a Free Lunch" },
  needsBase: true,
  parameters: [
    LAMBDA,
    {
      name: "dropRate",
      type: "FLOAT",
      // The paper's headline rate: dropping 90% of the delta parameters (rescaled) keeps the
      // fine-tuned abilities (arXiv 2311.03099, §4). The same paper tunes p per merge and
      // shows high rates fail when deltas are large (models trained far from the base), so
      // users of such models should lower it.
      default: 0.9,
      min: 0,
      max: 1,
      minInclusive: true,
      maxInclusive: false,
      description: "Drop rate p of task-vector entries; survivors are rescaled by 1/(1 − p).",
    },
    {
      name: "seed",
      type: "INT",
      default: 0,
      min: 0,
      max: 4294967295,
      minInclusive: true,
      maxInclusive: true,
      description: "Seed of the counter-based drop generator: the same seed gives the same drops.",
    },
  ],
  dtypes: FLOAT_DTYPES,
  reads: ONE_PASS,
  mergeTensor: chunkwise(async (t, start, count, acc) => {
    const base = await t.readBase(start, count);
    const { dropRate, seed, lambda } = t.params;
    for (let k = 0; k < t.inputs.length; k++) {
      const x = t.inputs[k];
      const drop = { key: dropStreamKey(seed, t.name, x.model), threshold: dropThreshold(dropRate), scale: 1 / (1 - dropRate), start };
      addWeightedDroppedDelta(acc, await t.read(k, start, count), base, x.weight, drop);
    }
    applyTaskVector(acc, base, lambda);
  }),
});
