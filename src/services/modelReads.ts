import { joinSql, sql, type DirectQueries, type SqlText } from "../persistence/directSql";
import type { ModelRow } from "./modelService";
import type { LineageEdgeRow } from "./lineageService";

export type TaskRow = { id: string; key: string; name: string; kind: string; primaryMetric: string; createdAt: Date; updatedAt: Date };
export type BackboneRow = { id: string; name: string; family: string | null; parameterPrefix: string | null; createdAt: Date; updatedAt: Date };

/** A page of models in (field, id) order. */
export interface ModelPageQuery {
  field: "name" | "createdAt";
  direction: "asc" | "desc";
  after: { value: string | number | null; id: string } | null;
  /** Rows to fetch (a page's size plus one, which only says there is more). */
  take: number;
  includeDeleted: boolean;
}

const MODEL_COLUMNS = sql`"id", "name", "version", "description", "taskId", "architecture", "backboneId", "sourceDatasetId", "targetDatasetId", "udaStrategy", "origin", "inference", "artifactId", "structureId", "graphModelId", "deletedAt", "createdAt", "updatedAt"`;

/**
 * A page's statement, spelled so that the (deletedAt, field, id) index of Model gives its order
 * and its start. PostgreSQL does not take `"deletedAt" IS NULL` as fixing that column for the
 * sort, so `ORDER BY field, id` alone made it walk the (createdAt) index backwards, filter, and
 * sort again (an Incremental Sort) — at a million models, and worse the more of the newest
 * models are deleted; ordering by deletedAt too (one value among live models, so the same
 * order) is the index's own order. After a cursor, `field <= value` bounds the scan in the
 * index instead of filtering every row before the cursor.
 */
export function pageStatement(query: ModelPageQuery): SqlText {
  const { field, direction, after, take } = query;
  const live = query.includeDeleted ? sql`1 = 1` : sql`"deletedAt" IS NULL`;
  const column = field === "name" ? sql`"name"` : sql`"createdAt"`;
  const order = direction === "asc" ? sql`ASC` : sql`DESC`;
  let keyset = sql`1 = 1`;
  if (after) {
    const value = field === "createdAt" && typeof after.value === "string" ? new Date(after.value) : after.value;
    keyset = direction === "asc"
      ? sql`${column} >= ${value} AND (${column} > ${value} OR "id" > ${after.id})`
      : sql`${column} <= ${value} AND (${column} < ${value} OR "id" < ${after.id})`;
  }
  const byIndex = query.includeDeleted ? sql`` : sql`"deletedAt" ${order}, `;
  return sql`SELECT ${MODEL_COLUMNS}
    FROM "Model" WHERE ${live} AND ${keyset} ORDER BY ${byIndex}${column} ${order}, "id" ${order} LIMIT ${take}`;
}

/** Keys per statement: far below either database's parameter limit, and a page is at most 500. */
const CHUNK = 1000;

/**
 * The reads a dashboard page makes for every request — a page of models, the models, tasks and
 * backbones they name, their lineage edges, tags and scores — as plain statements on the
 * connection Prisma uses (persistence/directSql). Through Prisma's query engine each of these
 * cost 1–3 ms of the API's CPU (compiling the query, then mapping every row), several times the
 * statement itself; a dashboard page of 50 models made seven of them per request.
 *
 * Rows have the shapes Prisma returns: both adapters hand back timestamps and JSON as text, so
 * they are turned into `Date`s and parsed values here, and counts (a bigint on PostgreSQL) into
 * numbers. `test/modelReads.test.ts` compares every reader with Prisma on both databases.
 */
export class ModelReads {
  constructor(private readonly direct: DirectQueries) {}

  async page(query: ModelPageQuery): Promise<ModelRow[]> {
    return (await this.direct.query(pageStatement(query))).map(toModel);
  }

  /**
   * How many models a page is taken from. A statement of its own, asked only when a query selects
   * `totalCount`: over a million live models it took ~237 ms on PostgreSQL, far more than a page.
   */
  async count(includeDeleted: boolean): Promise<number> {
    const live = includeDeleted ? sql`1 = 1` : sql`"deletedAt" IS NULL`;
    return Number((await this.direct.query(sql`SELECT COUNT(*) AS "n" FROM "Model" WHERE ${live}`))[0]!.n);
  }

  async models(ids: readonly string[]): Promise<ModelRow[]> {
    return (await this.chunked(ids, (list) => sql`SELECT ${MODEL_COLUMNS} FROM "Model" WHERE "id" IN (${list})`)).map(toModel);
  }

  async tasks(ids: readonly string[]): Promise<TaskRow[]> {
    const rows = await this.chunked(ids, (list) => sql`SELECT "id", "key", "name", "kind", "primaryMetric", "createdAt", "updatedAt" FROM "Task" WHERE "id" IN (${list})`);
    return rows.map((r) => ({ id: r.id as string, key: r.key as string, name: r.name as string, kind: r.kind as string, primaryMetric: r.primaryMetric as string, createdAt: date(r.createdAt), updatedAt: date(r.updatedAt) }));
  }

  async backbones(ids: readonly string[]): Promise<BackboneRow[]> {
    const rows = await this.chunked(ids, (list) => sql`SELECT "id", "name", "family", "parameterPrefix", "createdAt", "updatedAt" FROM "Backbone" WHERE "id" IN (${list})`);
    return rows.map((r) => ({ id: r.id as string, name: r.name as string, family: text(r.family), parameterPrefix: text(r.parameterPrefix), createdAt: date(r.createdAt), updatedAt: date(r.updatedAt) }));
  }

  /** Edges whose `end` is one of `ids`, oldest first (as the lineage lists are ordered). */
  async edges(end: "childId" | "parentId", ids: readonly string[]): Promise<LineageEdgeRow[]> {
    const column = end === "childId" ? sql`"childId"` : sql`"parentId"`;
    const rows = await this.chunked(ids, (list) => sql`SELECT ${EDGE_COLUMNS} FROM "LineageEdge" WHERE ${column} IN (${list}) ORDER BY "createdAt" ASC, "id" ASC`);
    const edges = rows.map(toEdge);
    // Chunks are each in order; more than one needs merging back into one order.
    return ids.length > CHUNK ? edges.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)) : edges;
  }

  async tags(modelIds: readonly string[]): Promise<Array<{ modelId: string; tag: string }>> {
    const rows = await this.chunked(modelIds, (list) => sql`SELECT "modelId", "tag" FROM "ModelTag" WHERE "modelId" IN (${list}) ORDER BY "tag" ASC`);
    return rows.map((r) => ({ modelId: r.modelId as string, tag: r.tag as string }));
  }

  /** Canonical scores on one dataset of the given models (models without one are left out). */
  async scores(datasetId: string, modelIds: readonly string[]): Promise<Array<{ modelId: string; score: number }>> {
    const rows = await this.chunked(modelIds, (list) => sql`SELECT "modelId", "score" FROM "ModelScore" WHERE "datasetId" = ${datasetId} AND "modelId" IN (${list})`);
    return rows.map((r) => ({ modelId: r.modelId as string, score: Number(r.score) }));
  }

  /** Edges matching a condition the caller builds (lineage walks), oldest first. */
  async edgesWhere(condition: SqlText): Promise<LineageEdgeRow[]> {
    return (await this.direct.query(sql`SELECT ${EDGE_COLUMNS} FROM "LineageEdge" WHERE ${condition} ORDER BY "createdAt" ASC, "id" ASC`)).map(toEdge);
  }

  /** The rows of a statement the caller builds (validation's one-statement lookups). */
  async rows(statement: SqlText): Promise<Array<Record<string, unknown>>> {
    return this.direct.query(statement);
  }

  /** The `id` column of a statement the caller builds (lineage walks). */
  async ids(statement: SqlText): Promise<string[]> {
    return (await this.direct.query(statement)).map((r) => r.id as string);
  }

  async modelExists(id: string): Promise<boolean> {
    return (await this.direct.query(sql`SELECT "id" FROM "Model" WHERE "id" = ${id}`)).length > 0;
  }

  async datasetExists(id: string): Promise<boolean> {
    return (await this.direct.query(sql`SELECT "id" FROM "Dataset" WHERE "id" = ${id}`)).length > 0;
  }

  /**
   * Live models' canonical scores on a dataset, best first (ties by model id), after a cursor;
   * and (after a cursor) how many rank before it. How many there are in all is `leaderboardCount`.
   */
  async leaderboard(datasetId: string, after: { score: number; modelId: string } | null, take: number) {
    const scored = leaderboardRows(datasetId);
    const keyset = after ? sql`AND (s."score" < ${after.score} OR (s."score" = ${after.score} AND s."modelId" > ${after.modelId}))` : sql``;
    const [rows, before] = await Promise.all([
      this.direct.query(sql`SELECT s."modelId", s."score", s."evaluationId"
        FROM ${scored} ${keyset} ORDER BY s."score" DESC, s."modelId" ASC LIMIT ${take}`),
      after
        ? this.direct.query(sql`SELECT COUNT(*) AS "n" FROM ${scored} AND (s."score" > ${after.score} OR (s."score" = ${after.score} AND s."modelId" <= ${after.modelId}))`)
        : Promise.resolve([{ n: 0 }]),
    ]);
    return {
      rows: rows.map((r) => ({ modelId: r.modelId as string, datasetId, score: Number(r.score), evaluationId: r.evaluationId as string })),
      rankBase: Number(before[0]!.n),
    };
  }

  /** Live models scored on a dataset: a statement of its own, asked only when `totalCount` is selected. */
  async leaderboardCount(datasetId: string): Promise<number> {
    return Number((await this.direct.query(sql`SELECT COUNT(*) AS "n" FROM ${leaderboardRows(datasetId)}`))[0]!.n);
  }

  private async chunked(ids: readonly string[], statement: (list: SqlText) => SqlText): Promise<Array<Record<string, unknown>>> {
    const out: Array<Record<string, unknown>> = [];
    for (let i = 0; i < ids.length; i += CHUNK) {
      const list = joinSql(ids.slice(i, i + CHUNK).map((id) => sql`${id}`), ", ");
      out.push(...(await this.direct.query(statement(list))));
    }
    return out;
  }
}

function leaderboardRows(datasetId: string): SqlText {
  return sql`"ModelScore" s JOIN "Model" m ON m."id" = s."modelId" WHERE s."datasetId" = ${datasetId} AND m."deletedAt" IS NULL`;
}

const EDGE_COLUMNS = sql`"id", "parentId", "childId", "relation", "weight", "mergeId", "createdAt"`;

function toEdge(r: Record<string, unknown>): LineageEdgeRow {
  return { id: r.id as string, parentId: r.parentId as string, childId: r.childId as string, relation: r.relation as string, weight: r.weight == null ? null : Number(r.weight), mergeId: text(r.mergeId), createdAt: date(r.createdAt) };
}

function toModel(r: Record<string, unknown>): ModelRow {
  return {
    id: r.id as string,
    name: r.name as string,
    version: r.version as string,
    description: text(r.description),
    taskId: r.taskId as string,
    architecture: text(r.architecture),
    backboneId: text(r.backboneId),
    sourceDatasetId: text(r.sourceDatasetId),
    targetDatasetId: text(r.targetDatasetId),
    udaStrategy: text(r.udaStrategy),
    origin: r.origin as string,
    inference: r.inference == null ? null : typeof r.inference === "string" ? JSON.parse(r.inference) : r.inference,
    artifactId: text(r.artifactId),
    structureId: text(r.structureId),
    graphModelId: text(r.graphModelId),
    deletedAt: r.deletedAt == null ? null : date(r.deletedAt),
    createdAt: date(r.createdAt),
    updatedAt: date(r.updatedAt),
  } as ModelRow;
}

function text(value: unknown): string | null {
  return value == null ? null : (value as string);
}

function date(value: unknown): Date {
  return value instanceof Date ? value : new Date(value as string);
}
