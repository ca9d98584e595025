import { Prisma } from "../persistence/generated/sqlite/client";
import { joinSql, sql, statementText, type SqlText } from "../persistence/directSql";
import type { Db, Provider } from "../persistence/database";
import { badInput, conflict } from "../core/errors";
import { LineageDirection, LineageRelation } from "../domain/enums";
import { oneOf } from "./validate";
import { isUniqueViolation } from "./prismaErrors";
import type { Loaders } from "./loaders";
import type { ModelRow } from "./modelService";
import type { ModelReads } from "./modelReads";

export interface LineageEdgeInput {
  parentId: string;
  childId: string;
  relation: string;
  weight?: number | null;
}

export interface LineageArgs {
  modelId: string;
  direction?: LineageDirection | null;
  depth?: number | null;
  relations?: string[] | null;
}

export const DEFAULT_LINEAGE_DEPTH = 3;
export const MAX_LINEAGE_DEPTH = 50;
/** Model ids a lineage edge query binds at most (see edgesAlong). */
const EDGE_QUERY_IDS = 500;

/** Values as a parenthesised list's contents, NULL for none (`IN (NULL)` matches nothing). */
const valueList = (values: readonly string[]) => (values.length ? joinSql(values.map((v) => sql`${v}`), ", ") : sql`NULL`);

export type LineageEdgeRow = Awaited<ReturnType<Db["lineageEdge"]["findFirstOrThrow"]>>;

/** The PostgreSQL advisory lock that serialises lineage edge inserts (any constant works; these bytes spell "line"). */
const LINEAGE_LOCK_KEY = 0x6c696e65;

export class LineageService {
  constructor(
    private readonly db: Db,
    private readonly provider: Provider,
    /** Reads past Prisma's query engine (a lineage page is one of a dashboard's queries). */
    private readonly reads: ModelReads,
  ) {}

  /**
   * Adds parent → child; refuses self-edges and edges that would close a cycle. The cycle check
   * and the insert are one transaction that holds a lock every other edge insert waits for, so
   * two concurrent edges (a → b and b → a) cannot both pass the check: the second sees the first.
   */
  async addEdge(input: LineageEdgeInput, mergeId?: string): Promise<LineageEdgeRow> {
    const relation = oneOf(input.relation, LineageRelation, "input.relation");
    if (input.parentId === input.childId) throw badInput("a model cannot be its own parent", "input.childId");
    if (input.weight != null && !Number.isFinite(input.weight)) throw badInput("input.weight must be a finite number", "input.weight");
    const [parent, child] = await Promise.all([
      this.db.model.findUnique({ where: { id: input.parentId }, select: { id: true, name: true } }),
      this.db.model.findUnique({ where: { id: input.childId }, select: { id: true, name: true } }),
    ]);
    if (!parent) throw badInput(`input.parentId ${JSON.stringify(input.parentId)} does not exist`, "input.parentId");
    if (!child) throw badInput(`input.childId ${JSON.stringify(input.childId)} does not exist`, "input.childId");
    try {
      return await this.db.$transaction(
        async (tx) => {
          await this.lockLineage(tx as unknown as Db);
          // A cycle appears exactly when the parent already descends from the child.
          const descendants = await this.walk(input.childId, "down", MAX_LINEAGE_DEPTH * 1000, null, tx as unknown as Db);
          if (descendants.has(input.parentId)) {
            throw badInput(`adding ${parent.name} → ${child.name} would create a cycle: ${parent.name} already descends from ${child.name}`, "input.parentId");
          }
          return tx.lineageEdge.create({
            data: { parentId: parent.id, childId: child.id, relation, weight: input.weight ?? null, mergeId: mergeId ?? null },
          });
        },
        // Waiting for the lock counts against these; a long queue of edge inserts must not time out.
        { maxWait: 30_000, timeout: 60_000 },
      );
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`${parent.name} → ${child.name} (${relation}) already exists`, "input.relation");
      throw error;
    }
  }

  /**
   * Takes the lineage write lock for the rest of the transaction. PostgreSQL: a transaction-level
   * advisory lock (READ COMMITTED, so the walk that follows sees every edge committed before the
   * lock was granted). SQLite: a write as the first statement makes the transaction a write
   * transaction at once (a deferred BEGIN would read first and could not upgrade once another
   * writer committed); other writers, in this process or another, wait for it.
   */
  private async lockLineage(tx: Db): Promise<void> {
    if (this.provider === "postgres") await tx.$queryRawUnsafe(`SELECT pg_advisory_xact_lock(${LINEAGE_LOCK_KEY})::text`);
    else await tx.$executeRawUnsafe(`UPDATE "LineageEdge" SET "id" = "id" WHERE 0`);
  }

  async removeEdge(id: string): Promise<LineageEdgeRow> {
    const edge = await this.db.lineageEdge.findUnique({ where: { id } });
    if (!edge) throw badInput(`lineage edge ${JSON.stringify(id)} does not exist`, "id");
    if (edge.mergeId) throw conflict("this edge records a merge and cannot be removed on its own");
    await this.db.lineageEdge.delete({ where: { id } });
    return edge;
  }

  /**
   * The model's ancestors and/or descendants within `depth` hops over the chosen relations,
   * and the edges among them. Computed in the database with a recursive CTE, so a deep
   * history costs one query per direction, not one per generation.
   */
  async lineage(args: LineageArgs): Promise<{ nodeIds: string[]; edges: LineageEdgeRow[] }> {
    const depth = args.depth ?? DEFAULT_LINEAGE_DEPTH;
    if (!Number.isInteger(depth) || depth < 0 || depth > MAX_LINEAGE_DEPTH) {
      throw badInput(`depth must be an integer from 0 to ${MAX_LINEAGE_DEPTH} (got ${depth})`, "depth");
    }
    const relations = args.relations?.map((r, i) => oneOf(r, LineageRelation, `relations.${i}`)) ?? null;
    if (!(await this.reads.modelExists(args.modelId))) throw badInput(`modelId ${JSON.stringify(args.modelId)} does not exist`, "modelId");
    const root = { id: args.modelId };
    const direction = args.direction ?? LineageDirection.BOTH;
    const nodes = new Set<string>([root.id]);
    const [up, down] = await Promise.all([
      direction !== LineageDirection.DESCENDANTS ? this.walk(root.id, "up", depth, relations) : new Set<string>(),
      direction !== LineageDirection.ANCESTORS ? this.walk(root.id, "down", depth, relations) : new Set<string>(),
    ]);
    for (const id of up) nodes.add(id);
    for (const id of down) nodes.add(id);
    const ids = [...nodes];
    // Only edges along the walked directions: an ancestor-side edge has its child among the
    // ancestors (or the root), a descendant-side edge its parent among the descendants.
    const upIds = [...up, root.id];
    const downIds = [...down, root.id];
    const relationFilter = relations ? sql`AND "relation" IN (${valueList(relations)})` : sql``;
    const ups = direction !== LineageDirection.DESCENDANTS;
    const downs = direction !== LineageDirection.ANCESTORS;
    if ((ups ? upIds.length + up.size : 0) + (downs ? downIds.length + down.size : 0) > 2 * EDGE_QUERY_IDS) {
      return { nodeIds: ids, edges: await this.edgesAlong(ups ? { ends: upIds, others: up } : null, downs ? { ends: downIds, others: down } : null, relationFilter) };
    }
    const along: SqlText[] = [];
    if (ups) along.push(sql`("childId" IN (${valueList(upIds)}) AND "parentId" IN (${valueList([...up])}))`);
    if (downs) along.push(sql`("parentId" IN (${valueList(downIds)}) AND "childId" IN (${valueList([...down])}))`);
    const edges = await this.reads.edgesWhere(sql`(${joinSql(along, " OR ")}) ${relationFilter}`);
    return { nodeIds: ids, edges };
  }

  /**
   * lineage()'s edges when its models are too many for one statement's parameters (a hub's
   * popular base can have tens of thousands of descendants; SQLite takes 32,766 parameters,
   * PostgreSQL 65,535): ancestor-side edges by their child, descendant-side edges by their parent,
   * EDGE_QUERY_IDS ids a query, the other end checked here; then in lineage()'s order (creation
   * time, then id).
   */
  private async edgesAlong(up: { ends: string[]; others: Set<string> } | null, down: { ends: string[]; others: Set<string> } | null, relationFilter: SqlText): Promise<LineageEdgeRow[]> {
    const found = new Map<string, LineageEdgeRow>();
    for (let i = 0; up && i < up.ends.length; i += EDGE_QUERY_IDS) {
      for (const e of await this.reads.edgesWhere(sql`"childId" IN (${valueList(up.ends.slice(i, i + EDGE_QUERY_IDS))}) ${relationFilter}`)) if (up.others.has(e.parentId)) found.set(e.id, e);
    }
    for (let i = 0; down && i < down.ends.length; i += EDGE_QUERY_IDS) {
      for (const e of await this.reads.edgesWhere(sql`"parentId" IN (${valueList(down.ends.slice(i, i + EDGE_QUERY_IDS))}) ${relationFilter}`)) if (down.others.has(e.childId)) found.set(e.id, e);
    }
    return [...found.values()].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** The lineage subgraph with its models loaded (through the request's loader). */
  async graph(args: LineageArgs, loaders: Loaders) {
    const { nodeIds, edges } = await this.lineage(args);
    const nodes = (await loaders.model.loadMany(nodeIds)).filter((m): m is ModelRow => m != null && !(m instanceof Error));
    return { nodes, edges };
  }

  /**
   * Every ancestor of each of `ids` over all relations, within MAX_LINEAGE_DEPTH hops, with its
   * distance in hops (the shortest path): id → (ancestor id → distance). One recursive query for
   * the whole batch.
   */
  async ancestorDistances(ids: string[]): Promise<Map<string, Map<string, number>>> {
    const out = new Map<string, Map<string, number>>(ids.map((id) => [id, new Map()]));
    if (ids.length === 0) return out;
    // Bounded IN lists stay within SQLite's parameter limit.
    for (let i = 0; i < ids.length; i += 500) {
      const batch = ids.slice(i, i + 500);
      const rows = await this.db.$queryRaw<Array<{ s: string; a: string; d: number | bigint }>>`
        WITH RECURSIVE up(s, a, d) AS (
          SELECT m."id", m."id", 0 FROM "Model" m WHERE m."id" IN (${Prisma.join(batch)})
          UNION
          SELECT u.s, e."parentId", u.d + 1 FROM "LineageEdge" e JOIN up u ON e."childId" = u.a WHERE u.d < ${MAX_LINEAGE_DEPTH}
        )
        SELECT s, a, MIN(d) AS d FROM up WHERE d > 0 GROUP BY s, a`;
      for (const r of rows) out.get(r.s)?.set(r.a, Number(r.d));
    }
    return out;
  }

  /**
   * Ids reachable from `start` (excluded) within `depth` hops; one recursive query, sent
   * directly, or through Prisma inside an edge insert's transaction (`tx`).
   */
  private async walk(start: string, way: "up" | "down", depth: number, relations: string[] | null, tx?: Db): Promise<Set<string>> {
    if (depth === 0) return new Set();
    const next = way === "up" ? sql`e."parentId"` : sql`e."childId"`;
    const from = way === "up" ? sql`e."childId"` : sql`e."parentId"`;
    const relationFilter = relations && relations.length ? sql`AND e."relation" IN (${joinSql(relations.map((r) => sql`${r}`), ", ")})` : relations ? sql`AND 1 = 0` : sql``;
    // UNION (not UNION ALL) drops repeated (id, depth) rows, which bounds diamonds; depth
    // bounds everything else.
    const statement = sql`
      WITH RECURSIVE walk(id, depth) AS (
        SELECT CAST(${start} AS TEXT), 0
        UNION
        SELECT ${next}, w.depth + 1
        FROM "LineageEdge" e JOIN walk w ON ${from} = w.id
        WHERE w.depth < ${depth} ${relationFilter}
      )
      SELECT DISTINCT id FROM walk WHERE id <> ${start}`;
    const ids = tx
      ? (await tx.$queryRawUnsafe<Array<{ id: string }>>(statementText(this.provider, statement), ...statement.values)).map((r) => r.id)
      : await this.reads.ids(statement);
    return new Set(ids);
  }
}
