import type { TaskKind } from "../domain/enums";

/*
 * The payload of each job kind, stored in the Job row as JSON and handed to the kind's handler.
 * Services build them when they queue a job and read them when the handler runs.
 */

/** The resolved recipe: everything a merge needs to be re-run exactly (stored in the job and the Merge row). */
export interface MergeRecipe {
  method: string;
  schedule: { kind: string; cutoff?: number | null; knots?: number[] | null; groups?: Array<{ prefix: string; knots: number[] }> };
  params: Record<string, number>;
  weights: number[] | null;
  anchorId: string;
  contributorIds: string[];
  baseModelId: string | null;
  /** sha256 of each input's artifact, same order: anchor, contributors…, base. */
  artifacts: { anchor: string; contributors: string[]; base: string | null };
  /**
   * The anchor's structure: its layer indices and L drive the schedule, and the same bytes may be
   * registered twice with different layer orders (safetensors `layerOrder`).
   */
  anchorStructureId: string;
  /** Present only for POSITION: a recipe matched by name hashes as it always did. */
  matching?: "POSITION";
}

export interface MergeJobPayload {
  recipe: MergeRecipe;
  recipeHash: string;
  output: { name: string; version: string; tags: string[] };
  /** The merge search keeping this merge. */
  searchId?: string | null;
  /** Datasets the merged model is evaluated on once registered (a search's audit and SCORE datasets). */
  evaluateOn?: string[];
}

export interface EvaluationJobPayload {
  modelId: string;
  datasetId: string;
  settingsHash: string;
  settings: EvaluationSettingsRecord;
  batchSize: number;
}

/** What the settings hash covers: everything that can change the numbers (not the batch size). */
export interface EvaluationSettingsRecord {
  artifactSha256: string;
  /** A checkpoint's: the graph model's artifact, run with the checkpoint's tensors. */
  graphArtifactSha256?: string;
  datasetChecksum: string | null;
  contract: unknown;
  limit: number | null;
  classes: number[] | null;
  task: `${TaskKind}`;
}

/** A merge search's job: the search row holds its settings and plan. */
export interface MergeSearchJobPayload {
  searchId: string;
}

/** Job kind → its payload: the discriminated union the runners and handlers are typed by. */
export interface JobPayloads {
  MERGE: MergeJobPayload;
  EVALUATE: EvaluationJobPayload;
  MERGE_SEARCH: MergeSearchJobPayload;
}
