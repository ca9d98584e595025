import { FieldResolver, Resolver, Root } from "type-graphql";
import { storedNormalization } from "../../services/inferenceContract";
import { Normalization } from "../types/enums";
import { InferenceContract } from "../types/inference.type";

@Resolver(() => InferenceContract)
export class InferenceContractResolver {
  @FieldResolver(() => Normalization, { description: "How (x − mean) / std is rounded; DIVIDE for contracts stored before the field existed." })
  normalization(@Root() contract: { normalization?: string | null }): Normalization {
    return storedNormalization(contract);
  }
}
