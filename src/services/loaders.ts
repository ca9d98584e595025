import DataLoader from "dataloader";
import type { Db } from "../persistence/database";
import type { LineageEdgeRow as EdgeRow } from "./lineageService";
import type { ModelReads } from "./modelReads";

type MergeInputRow = Awaited<ReturnType<Db["mergeInput"]["findFirstOrThrow"]>>;

/**
 * A batch's keys are gathered as DataLoader does by default (until the current tick's promise
 * jobs have run), so which keys share a query never depends on timing; its query then starts
 * after a pass of the event loop. On SQLite the queries complete without returning to the loop,
 * so without that pass a large page would resolve level after level in one stretch, and a health
 * check or a cheap request arriving meanwhile would wait for all of it.
 */
const afterLoopPass = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Keys per query. A page of 500 models whose relations fan out (each one's parents, and their
 * artifacts) asks for more keys in one tick than a statement takes parameters — Prisma allows
 * 999 on SQLite — so larger batches are split into queries of this many.
 */
const BATCH_KEYS = 500;
const batchOptions = { maxBatchSize: BATCH_KEYS } as const;

/**
 * Per-request batching: every field resolver that needs a related row goes through one of
 * these, so a page of N models costs a fixed number of queries, not N per field.
 */
export function createLoaders(db: Db, reads: ModelReads) {
  const byId = <T extends { id: string }>(fetch: (ids: string[]) => Promise<T[]>) =>
    new DataLoader<string, T | null>(async (ids) => {
      await afterLoopPass();
      const rows = await fetch([...ids]);
      const map = new Map(rows.map((r) => [r.id, r]));
      return ids.map((id) => map.get(id) ?? null);
    }, batchOptions);
  const groupBy = <T>(key: keyof T & string, fetch: (ids: string[]) => Promise<T[]>) =>
    new DataLoader<string, T[]>(async (ids) => {
      await afterLoopPass();
      const rows = await fetch([...ids]);
      const map = new Map<string, T[]>();
      for (const row of rows) {
        const k = row[key] as unknown as string;
        let list = map.get(k);
        if (!list) map.set(k, (list = []));
        list.push(row);
      }
      return ids.map((id) => map.get(id) ?? []);
    }, batchOptions);

  return {
    // The relations a dashboard's page of models asks for on every request are read past
    // Prisma's query engine (see ModelReads); the rest go through Prisma.
    task: byId((ids) => reads.tasks(ids)),
    backbone: byId((ids) => reads.backbones(ids)),
    dataset: byId((ids) => db.dataset.findMany({ where: { id: { in: ids } } })),
    model: byId((ids) => reads.models(ids)),
    artifact: byId(async (ids) => (await db.artifact.findMany({ where: { id: { in: ids } } })).map((a) => ({ ...a, sizeBytes: Number(a.sizeBytes), checkpointMeta: checkpointMetaOf(a.layout) }))),
    structure: byId(async (ids) => (await db.structure.findMany({ where: { id: { in: ids } } })).map((s) => ({ ...s, parameterCount: Number(s.parameterCount) }))),
    job: byId((ids) => db.job.findMany({ where: { id: { in: ids } } })),
    merge: byId((ids) => db.merge.findMany({ where: { id: { in: ids } } })),
    mergeByOutput: new DataLoader<string, Awaited<ReturnType<Db["merge"]["findFirstOrThrow"]>> | null>(async (ids) => {
      const rows = await db.merge.findMany({ where: { outputModelId: { in: [...ids] } } });
      const map = new Map(rows.map((r) => [r.outputModelId!, r]));
      return ids.map((id) => map.get(id) ?? null);
    }, batchOptions),
    mergeInputs: groupBy<MergeInputRow>("mergeId", (ids) => db.mergeInput.findMany({ where: { mergeId: { in: ids } }, orderBy: { position: "asc" } })),
    evaluation: byId((ids) => db.evaluation.findMany({ where: { id: { in: ids } } })),
    /**
     * Keys are "modelId|datasetId". One IN list per dataset (a page usually asks about one): for
     * a page of 50, an OR of (model, dataset) pairs took 3.1 ms, most of it Prisma's query
     * compiler on the event loop, and the IN list takes 0.9 ms through Prisma (SQLite,
     * sequential calls), less sent directly.
     */
    score: new DataLoader<string, number | null>(async (keys) => {
      const modelsByDataset = new Map<string, string[]>();
      for (const key of keys) {
        const [modelId, datasetId] = key.split("|") as [string, string];
        const ids = modelsByDataset.get(datasetId);
        if (ids) ids.push(modelId);
        else modelsByDataset.set(datasetId, [modelId]);
      }
      const found = await Promise.all(
        [...modelsByDataset].map(async ([datasetId, modelIds]) => (await reads.scores(datasetId, modelIds)).map((r) => [`${r.modelId}|${datasetId}`, r.score] as const)),
      );
      const map = new Map<string, number>(found.flat());
      return keys.map((k) => map.get(k) ?? null);
    }, batchOptions),
    tags: groupBy<{ modelId: string; tag: string }>("modelId", (ids) => reads.tags(ids)),
    parentEdges: groupBy<EdgeRow>("childId", (ids) => reads.edges("childId", ids)),
    childEdges: groupBy<EdgeRow>("parentId", (ids) => reads.edges("parentId", ids)),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;

/** A PyTorch checkpoint's `meta`, recorded with its layout at registration (an object for GraphQL's JSONObject). */
function checkpointMetaOf(layout: unknown): Record<string, unknown> | null {
  const meta = (layout as { metadata?: { checkpointMeta?: unknown } } | null)?.metadata?.checkpointMeta;
  if (meta === undefined || meta === null) return null;
  return typeof meta === "object" && !Array.isArray(meta) ? (meta as Record<string, unknown>) : { value: meta };
}
