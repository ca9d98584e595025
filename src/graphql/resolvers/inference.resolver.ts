import { FieldResolver, Resolver, Root } from "type-graphql";
import type { ContractProvenance } from "../../services/contractFromFile";
import { storedNormalization } from "../../services/inferenceContract";
import { Normalization } from "../types/enums";
import { InferenceContract } from "../types/inference.type";

@Resolver(() => InferenceContract)
export class InferenceContractResolver {
  @FieldResolver(() => Normalization, { description: "How (x − mean) / std is rounded; DIVIDE for contracts stored before the field existed." })
  normalization(@Root() contract: { normalization?: string | null }): Normalization {
    return storedNormalization(contract);
  }

  @FieldResolver(() => Boolean, { description: "True when fields were read or guessed from the ONNX file at registration (see notes)." })
  inferred(@Root() contract: ContractProvenance): boolean {
    return contract.inferred === true;
  }

  @FieldResolver(() => [String], { description: "What was guessed rather than read from the file, each note naming its fields." })
  notes(@Root() contract: ContractProvenance): string[] {
    return (contract.notes ?? []).map((n) => n.text);
  }

  @FieldResolver(() => [String], { description: "Parts the file could not give (field: reason); evaluation refuses the model until they are given." })
  missing(@Root() contract: ContractProvenance): string[] {
    return (contract.missing ?? []).map((m) => `${m.field}: ${m.reason}`);
  }
}
