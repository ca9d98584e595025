/** What the merge search pages read from the API, and how a candidate is written for people. */
export interface Recipe {
  anchorId: string;
  modelIds: string[];
  method?: string | null;
  schedule?: { kind: string; cutoff?: number | null; knots?: number[] | null; groups?: unknown[] | null } | null;
  weights?: number[] | null;
  /** The method's parameters from the search's parameter grid (absent: its defaults). */
  params?: Record<string, number> | null;
  baseModelId?: string | null;
}
export interface CandidateView {
  key: string;
  rank: number;
  position: number;
  objective: number | null;
  audit: number | null;
  seconds: number;
  isSingle: boolean;
  recipe: Recipe;
}
export interface SearchSettings {
  strategy: string;
  modelIds: string[];
  anchorIds: string[];
  maxModels: number;
  includeSingles: boolean;
  methods: string[];
  objective: { kind: string; datasetId: string; limit: number; seed: string };
  audit: { datasetId: string; limit: number } | null;
  budget: { maxCandidates: number; maxSeconds: number | null };
  keep: string;
  topK: number;
}

export const CANDIDATE_FIELDS = "key rank position objective audit seconds isSingle recipe";

export const OBJECTIVE_KINDS = [
  { kind: "INFO_MAX", text: "information maximisation (label-free; the most trustworthy on unlabelled target images)" },
  { kind: "CONSISTENCY", text: "flip/colour consistency (label-free)" },
  { kind: "ENSEMBLE_AGREEMENT", text: "agreement with the pool's ensemble (label-free)" },
  { kind: "ENTROPY", text: "negative entropy (label-free; weak ranking)" },
  { kind: "SCORE", text: "primary metric on a labelled dataset" },
];

export type Names = Map<string, string>;

/** "m1 (alone)" or "m1 ← m2 + m3 · layerwise · STEP 0.5 · w 1, 2". */
export function describeRecipe(recipe: Recipe, names: Names): string {
  const name = (id: string) => names.get(id) ?? id.slice(0, 8);
  if (!recipe.modelIds.length) return `${name(recipe.anchorId)} (alone)`;
  const s = recipe.schedule;
  const schedule = !s ? "" : s.groups?.length ? `${s.kind} per group` : s.kind === "STEP" && s.cutoff !== null && s.cutoff !== undefined ? `STEP ${s.cutoff}` : s.kind === "CUSTOM" && s.knots ? `CUSTOM ${s.knots.map((k) => k.toFixed(2)).join(", ")}` : s.kind;
  const parts = [`${name(recipe.anchorId)} ← ${recipe.modelIds.map(name).join(" + ")}`, (recipe.method ?? "LAYERWISE").toLowerCase(), schedule];
  if (recipe.weights?.length) parts.push(`w ${recipe.weights.join(", ")}`);
  for (const [k, v] of Object.entries(recipe.params ?? {})) parts.push(`${k} ${v}`);
  return parts.filter(Boolean).join(" · ");
}

/** Objectives mix nats (INFO_MAX, ENTROPY) and mIoU fractions; five decimals tell candidates apart in both. */
export const objectiveText = (v: number | null | undefined) => (v === null || v === undefined ? "—" : v.toFixed(5));

/** A difference of objectives, its sign always shown. */
export function signedObjective(v: number | null | undefined): string {
  if (v === null || v === undefined) return "—";
  return `${v > 0 ? "+" : v < 0 ? "−" : "±"}${Math.abs(v).toFixed(5)}`;
}
