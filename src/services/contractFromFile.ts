import { badInput } from "../core/errors";
import type { ContractField, InferredContract } from "../core/eval/inferContract";
import { checkInferenceContract, type InferenceContract, type InferenceContractInput } from "./inferenceContract";

/** What a contract read from the file records about itself beside its fields. */
export interface ContractProvenance {
  /** True when at least one field was read or guessed from the file rather than given. */
  inferred?: boolean;
  /** The guesses, each with the fields it concerns (dropped once all those fields are given). */
  notes?: Array<{ fields: ContractField[]; text: string }>;
  /** Parts the file could not give; evaluation refuses the model until they are given. */
  missing?: Array<{ field: ContractField; reason: string }>;
}

export type StoredContract = InferenceContract & ContractProvenance;

const FIELDS: readonly ContractField[] = ["inputName", "width", "height", "resize", "channelOrder", "mean", "std", "normalization", "outputs", "postprocess"];

/**
 * The contract of a model registered from an ONNX file: each field given explicitly wins, the
 * others come from the file (core/eval/inferContract). A part the file could not give keeps the
 * documented default as a placeholder and stays listed in `missing`.
 */
export function contractFromFile(inferred: InferredContract, explicit: InferenceContractInput | null | undefined, field = "input.inference"): StoredContract {
  return overlayContract({ fields: inferred.fields as Partial<InferenceContractInput>, notes: inferred.notes, missing: inferred.missing }, explicit, field);
}

/**
 * A stored contract with explicit fields laid over it: for a contract read from a file, the
 * fields given replace those fields only (and settle their notes and missing parts); any other
 * contract is replaced as a whole, its absent fields taking the documented defaults.
 */
export function updateContract(stored: StoredContract | null, explicit: InferenceContractInput, field = "input.inference"): StoredContract {
  if (!stored?.inferred) return checkInferenceContract(explicit, field);
  const missing = stored.missing ?? [];
  const fields = Object.fromEntries(FIELDS.filter((f) => stored[f] != null && !missing.some((m) => m.field === f)).map((f) => [f, stored[f]]));
  return overlayContract({ fields: fields as Partial<InferenceContractInput>, notes: stored.notes ?? [], missing }, explicit, field);
}

function overlayContract(base: { fields: Partial<InferenceContractInput>; notes: NonNullable<ContractProvenance["notes"]>; missing: NonNullable<ContractProvenance["missing"]> }, explicit: InferenceContractInput | null | undefined, field: string): StoredContract {
  const given = (f: ContractField) => explicit?.[f] != null;
  const merged: Record<string, unknown> = {};
  for (const f of FIELDS) {
    const value = given(f) ? explicit![f] : base.fields[f];
    if (value != null) merged[f] = value;
  }
  const notes = base.notes.filter((n) => !n.fields.every(given));
  const missing = base.missing.filter((m) => !given(m.field));
  const fromFile = FIELDS.some((f) => !given(f) && base.fields[f] != null);
  const contract = checkInferenceContract(merged as InferenceContractInput, field);
  if (!fromFile && notes.length === 0 && missing.length === 0) return contract;
  return { ...contract, inferred: true, notes, missing };
}

/** Refuses a contract with parts the file could not give, naming them and how to give them. */
export function assertContractComplete(stored: ContractProvenance, model: string): void {
  const missing = stored.missing ?? [];
  if (missing.length === 0) return;
  const parts = missing.map((m) => `${m.field}: ${m.reason}`).join("; ");
  const fields = missing.map((m) => m.field).join(", ");
  throw badInput(`${model}: its inference contract could not be read from the file — ${parts}; give ${fields} with updateModel(input: { inference })`, `model.inference.${missing[0].field}`);
}
