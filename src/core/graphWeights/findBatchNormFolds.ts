import { moduleOf } from "../formats/safetensors/safetensorsLayerOrder";
import type { TensorInfo } from "../structure/types";

/**
 * Batch norm's eps is not in a folded graph (it was spent folding) nor in a state dict; PyTorch's
 * default (`nn.BatchNorm2d(eps=1e-5)`, also mmcv's and Hugging Face's) is assumed.
 */
export const DEFAULT_BATCH_NORM_EPS = 1e-5;

/** A Conv followed by a BatchNorm in a checkpoint, by tensor names. */
export interface BatchNormFold {
  conv: { weight: string; bias: string | null };
  /** weight (γ) and bias (β) are null for a batch norm without affine parameters. */
  bn: { weight: string | null; bias: string | null; mean: string; variance: string };
  eps: number;
}

/**
 * The checkpoint's Conv + BatchNorm pairs to fold before mapping onto a graph. A batch norm is a
 * module with floating 1-D `running_mean` and `running_var` of equal size C; its conv is the
 * module just before it in the checkpoint's order, with a floating `weight` of rank ≥ 3 and C
 * output channels. Folding happens only when the graph keeps fewer BatchNormalization nodes than
 * the checkpoint has batch norms, and never for one whose statistics the graph names (kept as is).
 */
export function findBatchNormFolds(tensors: readonly TensorInfo[], graphBatchNorms: number, graphNames: ReadonlySet<string>, eps = DEFAULT_BATCH_NORM_EPS): BatchNormFold[] {
  const modules: string[] = [];
  const members = new Map<string, Map<string, TensorInfo>>();
  for (const t of tensors) {
    const m = moduleOf(t.name);
    let entry = members.get(m);
    if (!entry) {
      members.set(m, (entry = new Map()));
      modules.push(m);
    }
    entry.set(t.name.slice(m ? m.length + 1 : 0), t);
  }
  const vector = (t: TensorInfo | undefined, c?: number) => t !== undefined && t.mergeable && t.shape.length === 1 && (c === undefined || t.shape[0] === c);
  const batchNorms = modules.filter((m) => {
    const own = members.get(m)!;
    const mean = own.get("running_mean");
    return vector(mean) && vector(own.get("running_var"), mean!.shape[0]);
  });
  if (graphBatchNorms >= batchNorms.length) return [];

  const folds: BatchNormFold[] = [];
  for (const m of batchNorms) {
    const own = members.get(m)!;
    const name = (key: string) => (m ? `${m}.${key}` : key);
    if (graphNames.has(name("running_mean"))) continue;
    const c = own.get("running_mean")!.shape[0];
    const before = modules[modules.indexOf(m) - 1];
    const conv = before === undefined ? undefined : members.get(before)!;
    const weight = conv?.get("weight");
    if (!weight || !weight.mergeable || weight.shape.length < 3 || weight.shape[0] !== c) continue;
    const bias = conv!.get("bias");
    const gamma = own.get("weight");
    const beta = own.get("bias");
    folds.push({
      conv: { weight: weight.name, bias: vector(bias, c) ? bias!.name : null },
      bn: { weight: vector(gamma, c) ? gamma!.name : null, bias: vector(beta, c) ? beta!.name : null, mean: name("running_mean"), variance: name("running_var") },
      eps,
    });
  }
  return folds;
}
