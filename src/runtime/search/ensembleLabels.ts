import { ensemblePseudoLabels, type OutputActivation } from "../../core/search";
import { sessionThreads } from "../openSession";
import type { RuntimeContract } from "../runtimeContract";
import { scoresAtImageSize, SearchSession } from "./searchSession";
import type { SearchImageSet } from "./searchImages";
import { badInput, DomainError } from "../../core/errors";

/** ENSEMBLE_AGREEMENT's reference: per image, the argmax of the pool's mean softmax at the image's size. */
export async function ensembleLabels(models: ReadonlyArray<{ modelPath: string; contract: RuntimeContract; activation: OutputActivation }>, set: SearchImageSet, numClasses: number, threads = 1, signal?: AbortSignal): Promise<Uint16Array[]> {
  const sessions: SearchSession[] = [];
  try {
    for (const m of models) {
      const s = await SearchSession.open(m.modelPath, m.contract, numClasses, sessionThreads(threads));
      sessions.push(s);
      if (s.producesIds) throw badInput(`model ${m.modelPath} outputs class ids; ENSEMBLE_AGREEMENT averages the pool's softmax and needs scores`, "input.modelIds");
    }
    const labels: Uint16Array[] = [];
    for (const img of set.images) {
      if (signal?.aborted) throw new DomainError("CANCELLED", "cancelled");
      const members = [];
      for (const [k, s] of sessions.entries()) {
        const out = await s.run(img);
        if (out.kind !== "scores") throw badInput("ENSEMBLE_AGREEMENT needs scores");
        members.push({ scores: scoresAtImageSize(out.map, img.height, img.width), activation: models[k].activation });
      }
      labels.push(ensemblePseudoLabels(members, numClasses, img.width * img.height));
    }
    return labels;
  } finally {
    for (const s of sessions) await s.release();
  }
}
