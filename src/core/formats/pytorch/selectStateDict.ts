import { badInput } from "../../errors";
import { PickleDict, TensorRef, type PickleValue } from "./pickleValues";

/** Where trainers keep the weights, tried in this order when the top level is not them. */
export const STATE_DICT_KEYS = ["state_dict", "model", "module", "ema", "state_dict_ema"] as const;
const DDP_PREFIX = "module.";

export interface StateDictChoice {
  /** The dict's key in the checkpoint, or null for the top level. */
  key: string | null;
  /** Tensors by name (after the prefix is stripped), in the dict's own order. */
  tensors: Array<[string, TensorRef]>;
  /** The prefix removed from every name ("" for none). */
  strippedPrefix: string;
  /** Non-tensor entries of the chosen dict, skipped (their names). */
  skipped: string[];
}

export interface SelectStateDictOptions {
  /** The checkpoint key holding the weights (overrides the search). */
  checkpointKey?: string;
  /** A name prefix to strip (overrides the automatic `module.` of DistributedDataParallel). */
  stripPrefix?: string;
}

const isTensorDict = (v: PickleValue | undefined): boolean =>
  v instanceof PickleDict && v.entries.size > 0 && [...v.entries.values()].every((t) => t instanceof TensorRef);

function keysOf(d: PickleDict): string {
  const keys = [...d.entries.keys()].map((k) => JSON.stringify(String(k)));
  return keys.slice(0, 10).join(", ") + (keys.length > 10 ? ", …" : "");
}

/**
 * The dict holding a checkpoint's weights: the top level when it is a dict of tensors, else the
 * first of `state_dict`, `model`, `module`, `ema`, `state_dict_ema` that is one, or the key the
 * user names. A prefix every name shares (`module.` from DistributedDataParallel, or the one the
 * user names) is stripped.
 */
export function selectStateDict(root: PickleValue, options: SelectStateDictOptions = {}): StateDictChoice {
  if (!(root instanceof PickleDict)) throw badInput("the checkpoint is not a dict (a whole pickled nn.Module or a bare tensor is not read; save its state_dict)");
  let key: string | null = null;
  let dict: PickleDict;
  if (options.checkpointKey !== undefined) {
    const named = root.entries.get(options.checkpointKey);
    if (named === undefined) throw badInput(`the checkpoint has no key ${JSON.stringify(options.checkpointKey)}; its keys: ${keysOf(root)}`, "input.checkpointKey");
    if (!(named instanceof PickleDict)) throw badInput(`the checkpoint's ${JSON.stringify(options.checkpointKey)} is not a dict of tensors`, "input.checkpointKey");
    key = options.checkpointKey;
    dict = named;
  } else if (isTensorDict(root)) {
    dict = root;
  } else {
    const found = STATE_DICT_KEYS.find((k) => isTensorDict(root.entries.get(k)));
    if (found === undefined) {
      throw badInput(`the checkpoint's weights are not where a state dict is kept (the top level, or ${STATE_DICT_KEYS.join(", ")}); its keys: ${keysOf(root)} — name the one holding them with checkpointKey`, "input.checkpointKey");
    }
    key = found;
    dict = root.entries.get(found) as PickleDict;
  }
  const tensors: Array<[string, TensorRef]> = [];
  const skipped: string[] = [];
  for (const [name, value] of dict.entries) {
    if (typeof name !== "string") throw badInput(`the state dict has a key that is not a string (${String(name)})`);
    if (value instanceof TensorRef) tensors.push([name, value]);
    else skipped.push(name);
  }
  if (tensors.length === 0) throw badInput(`the checkpoint's ${key === null ? "top level" : JSON.stringify(key)} holds no tensors`, options.checkpointKey !== undefined ? "input.checkpointKey" : undefined);
  const prefix = options.stripPrefix ?? (tensors.every(([n]) => n.startsWith(DDP_PREFIX)) ? DDP_PREFIX : "");
  if (prefix !== "") {
    if (!tensors.some(([n]) => n.startsWith(prefix))) throw badInput(`no tensor name starts with ${JSON.stringify(prefix)}`, "input.stripPrefix");
    const seen = new Set<string>();
    for (const entry of tensors) {
      if (entry[0].startsWith(prefix)) entry[0] = entry[0].slice(prefix.length);
      if (entry[0] === "") throw badInput(`stripping ${JSON.stringify(prefix)} leaves a tensor without a name`, "input.stripPrefix");
      if (seen.has(entry[0])) throw badInput(`stripping ${JSON.stringify(prefix)} gives two tensors the name ${JSON.stringify(entry[0])}`, "input.stripPrefix");
      seen.add(entry[0]);
    }
  }
  return { key, tensors, strippedPrefix: prefix, skipped };
}
