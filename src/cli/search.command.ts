import { DomainError } from "../core/errors";
import { MERGE_METHOD_NAMES, MERGE_METHODS } from "../core/merge/mergeMethods";
import { ApiClient } from "./apiClient";
import { parse } from "./main";
import { followJob } from "./merge.command";
import { gridHelp, parseGrids, parseMethods, parseSchedules } from "./searchGrids";

export const SEARCH_USAGE = `usage: layermerge search --pool ID [ID …] --objective info-max|entropy|consistency|ensemble-agreement|score
                         --dataset ID [--audit ID] [--limit N] [--seed S] [--max-models K] [--anchors ID,…]
                         [--methods M,…] [--base ID] [--schedules KIND,STEP:T,…] [--grid METHOD.PARAM=v1,v2,… …]
                         [--budget N] [--max-seconds S] [--strategy grid|evolution] [--keep best|top-k|none] [--top-k K]
                         [--name PREFIX] [--top N]
  Ranks merges of the pool's models, and the single models, by an objective on the dataset's images.
  --methods         merge methods to try (default LAYERWISE; any case): ${MERGE_METHOD_NAMES.join(", ")}
  --base ID         the pre-trained model whose task vectors ${MERGE_METHOD_NAMES.filter((m) => MERGE_METHODS[m].needsBase).join(", ")} merge
  --schedules       per-layer schedules to try (default uniform,linear,cosine,step:0.25,step:0.5,step:0.75)
  --grid            a method parameter's values to try, repeatable, e.g. --grid ties.density=0.2,0.5,0.8
                    --grid dare.drop-rate=0.3,0.6; every combination is crossed with the model sets and
                    schedules (the first parameter given varies slowest; others keep their defaults).
                    Parameters (range, default):
${gridHelp()}`;

const percent = (v: number | null | undefined, digits = 1) => (v === null || v === undefined ? "—" : `${(v * 100).toFixed(digits)}`);

/** Starts a merge search, follows it with a progress bar and prints the ranked candidates. */
export async function searchCommand(args: string[], client = new ApiClient()): Promise<number> {
  const { values, positionals } = parse(args, {
    pool: { type: "string", multiple: true }, objective: { type: "string" }, dataset: { type: "string" }, audit: { type: "string" },
    limit: { type: "string" }, seed: { type: "string" }, "max-models": { type: "string" }, anchors: { type: "string" },
    budget: { type: "string" }, "max-seconds": { type: "string" }, strategy: { type: "string" }, keep: { type: "string" },
    "top-k": { type: "string" }, name: { type: "string" }, top: { type: "string" },
    methods: { type: "string" }, base: { type: "string" }, schedules: { type: "string" }, grid: { type: "string", multiple: true },
  });
  const pool = [...((values.pool as string[] | undefined) ?? []), ...positionals];
  if (pool.length === 0 || !values.objective || !values.dataset) {
    console.error(SEARCH_USAGE);
    return 2;
  }
  const int = (v: unknown, flag: string) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n)) throw new DomainError("BAD_USER_INPUT", `--${flag} must be an integer (got ${JSON.stringify(v)})`);
    return n;
  };
  const enumValue = (v: unknown) => (v === undefined ? undefined : String(v).toUpperCase().replace(/-/g, "_"));
  const methods = parseMethods(values.methods as string | undefined);
  const input = {
    modelIds: pool,
    methods,
    baseModelId: values.base,
    schedules: parseSchedules(values.schedules as string | undefined),
    paramGrids: parseGrids((values.grid as string[] | undefined) ?? [], methods ?? ["LAYERWISE"]),
    anchorIds: values.anchors ? String(values.anchors).split(",").map((s) => s.trim()) : undefined,
    maxModels: int(values["max-models"], "max-models"),
    strategy: enumValue(values.strategy),
    objective: { kind: enumValue(values.objective), datasetId: values.dataset, limit: int(values.limit, "limit"), seed: int(values.seed, "seed") },
    audit: values.audit ? { datasetId: values.audit, limit: int(values.limit, "limit") } : undefined,
    budget: { maxCandidates: int(values.budget, "budget"), maxSeconds: values["max-seconds"] === undefined ? undefined : Number(values["max-seconds"]) },
    keep: enumValue(values.keep),
    topK: int(values["top-k"], "top-k"),
    output: values.name ? { namePrefix: values.name } : undefined,
  };
  const { startMergeSearch: job } = await client.graphql(`mutation($i: MergeSearchInput!) { startMergeSearch(input: $i) { id status message mergeSearch { id planned truncated } } }`, { i: input });
  const s0 = job.mergeSearch;
  console.error(`search ${s0.id}: ${s0.planned} candidates${s0.truncated ? " (the plan was cut at the budget)" : ""}; job ${job.id}`);
  const final = await followJob(client, job.id, "searching");
  if (final.status !== "SUCCEEDED") {
    console.error(`search ${final.status.toLowerCase()}: ${final.error ?? final.message ?? ""}`);
    return 1;
  }
  const top = int(values.top, "top") ?? 20;
  const { mergeSearch: s } = await client.graphql(
    `query($id: ID!, $n: Int) { mergeSearch(id: $id) { summary spearman pickConfidence marginVsBestSingle pickIsSingle
      best { rank } bestSingle { rank objective audit recipe }
      candidates(first: $n) { totalCount edges { node { rank isSingle objective audit seconds recipe } } } } }`,
    { id: s0.id, n: top },
  );
  const names = await modelNames(client, s.candidates.edges.map((e: any) => e.node.recipe));
  const describe = (r: any) => {
    if (!r.modelIds.length) return `${names.get(r.anchorId) ?? r.anchorId} (alone)`;
    const sched = r.schedule.groups ? `${r.schedule.kind}+groups` : r.schedule.kind === "STEP" ? `STEP ${r.schedule.cutoff}` : r.schedule.kind;
    const params = r.params ? Object.entries(r.params).map(([k, v]) => ` ${k}=${v}`).join("") : "";
    return `${names.get(r.anchorId) ?? r.anchorId} ← ${r.modelIds.map((id: string) => names.get(id) ?? id).join(" + ")} ${r.method}${params} ${sched}${r.weights ? ` w=${r.weights.join(",")}` : ""}`;
  };
  console.log(`${"rank".padStart(4)}  ${"objective".padStart(10)}  ${"audit %".padStart(7)}  ${"s".padStart(5)}  candidate`);
  for (const { node: n } of s.candidates.edges) {
    console.log(`${String(n.rank).padStart(4)}  ${n.objective === null ? "—".padStart(10) : n.objective.toFixed(5).padStart(10)}  ${percent(n.audit).padStart(7)}  ${n.seconds.toFixed(2).padStart(5)}  ${describe(n.recipe)}`);
  }
  if (s.candidates.totalCount > top) console.log(`… ${s.candidates.totalCount - top} more (--top N)`);
  console.log("");
  console.log(s.summary);
  if (s.bestSingle) console.log(`best single model: ${describe(s.bestSingle.recipe)} (rank ${s.bestSingle.rank}, audit ${percent(s.bestSingle.audit)}%)`);
  console.log(`pick confidence ${percent(s.pickConfidence)}% of bootstrap resamples; margin over the best single ${s.marginVsBestSingle === null ? "—" : s.marginVsBestSingle.toFixed(5)}${s.spearman === null ? "" : `; Spearman ρ(objective, audit) ${s.spearman.toFixed(3)}`}`);
  return 0;
}

async function modelNames(client: ApiClient, recipes: Array<{ anchorId: string; modelIds: string[] }>): Promise<Map<string, string>> {
  const ids = [...new Set(recipes.flatMap((r) => [r.anchorId, ...r.modelIds]))];
  const out = new Map<string, string>();
  for (const id of ids) {
    const { model } = await client.graphql(`query($id: ID!) { model(id: $id) { name version } }`, { id });
    if (model) out.set(id, `${model.name}@${model.version}`);
  }
  return out;
}
