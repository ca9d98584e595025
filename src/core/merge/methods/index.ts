import { dare } from "./dare";
import { layerwise } from "./layerwise";
import { modelStock } from "./modelStock";
import { slerp } from "./slerp";
import { taskArithmetic } from "./taskArithmetic";
import { ties } from "./ties";

/**
 * The registry of merge methods: adding one is a file in this folder and a line here. The
 * GraphQL enum, `mergeMethods` and the CLI's list come from it, in this order.
 */
export const METHODS = Object.freeze([layerwise, taskArithmetic, ties, dare, slerp, modelStock] as const);

export type MergeMethodName = (typeof METHODS)[number]["name"];
export type { MergeMethodDefinition, MethodParameter, TensorMerge, MethodRecipe } from "./mergeMethod";
