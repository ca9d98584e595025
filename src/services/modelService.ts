import type { Db, Provider } from "../persistence/database";
import { badInput, conflict, notFound } from "../core/errors";
import { ModelOrigin, ModelSortField, SortDirection } from "../domain/enums";
import { oneOf, optionalText, requiredText, tagList } from "./validate";
import { isUniqueViolation } from "./prismaErrors";
import { Connection, connectionFrom, decodeCursor, encodeCursor, keysetAfter, pageSize } from "./pagination";
import { checkInferenceContract, InferenceContractInput } from "./inferenceContract";
import { updateContract, type StoredContract } from "./contractFromFile";
import { containsInsensitive } from "./datasetService";
import { joinSql, sql, statementText, type DirectQueries } from "../persistence/directSql";
import { cuid } from "../persistence/cuid";
import type { ModelReads } from "./modelReads";

export type ModelRow = Awaited<ReturnType<Db["model"]["findFirstOrThrow"]>>;

export interface ModelInput {
  name: string;
  version?: string | null;
  description?: string | null;
  taskId: string;
  architecture?: string | null;
  backboneId?: string | null;
  sourceDatasetId?: string | null;
  targetDatasetId?: string | null;
  udaStrategy?: string | null;
  origin?: string | null;
  tags?: string[] | null;
  inference?: InferenceContractInput | null;
  /** A checkpoint's graph: a live ONNX model of the same task (null clears it on update). */
  graphModelId?: string | null;
}

export interface ModelWhere {
  AND?: ModelWhere[] | null;
  OR?: ModelWhere[] | null;
  NOT?: ModelWhere | null;
  ids?: string[] | null;
  taskId?: string | null;
  backboneId?: string | null;
  architecture?: string | null;
  udaStrategy?: string | null;
  origin?: string | null;
  sourceDatasetId?: string | null;
  targetDatasetId?: string | null;
  /** Source or target. */
  datasetId?: string | null;
  tagsAll?: string[] | null;
  tagsAny?: string[] | null;
  nameContains?: string | null;
  createdAfter?: Date | null;
  createdBefore?: Date | null;
}

export interface ModelListArgs {
  where?: ModelWhere | null;
  orderBy?: { field: ModelSortField; direction?: SortDirection | null; datasetId?: string | null } | null;
  first?: number | null;
  after?: string | null;
  includeDeleted?: boolean | null;
}

const MAX_FILTER_NESTING = 6;

/** The references a model's input may name, in the order their errors are reported. */
const REFERENCES = ["taskId", "backboneId", "sourceDatasetId", "targetDatasetId"] as const;

/** A new model's name and version as checkInput will store them, or undefined when invalid. */
function nameAndVersion(input: Partial<ModelInput>): { name: string; version: string } | undefined {
  try {
    return { name: requiredText(input.name, "input.name"), version: optionalText(input.version, "input.version", 100) ?? "1" };
  } catch {
    return undefined;
  }
}

type InsertExtra = { structureId?: string; artifactId?: string; origin?: string; graphModelId?: string | null };

export interface ValidatedModel {
  data: Record<string, unknown> & { name: string; version: string; taskId: string };
  tags: string[];
  /** The task's kind (SEMANTIC, PANOPTIC…), read with the references: what a contract read from a file depends on. */
  taskKind: string | null;
}

export class ModelService {
  constructor(
    private readonly db: Db,
    private readonly provider: Provider,
    /** Direct reads for the unfiltered pages dashboards ask for; without them, Prisma reads all. */
    private readonly reads?: ModelReads,
  ) {}

  async get(id: string): Promise<ModelRow | null> {
    if (this.reads) return (await this.reads.models([id]))[0] ?? null;
    return this.db.model.findUnique({ where: { id } });
  }

  async list(args: ModelListArgs): Promise<Connection<ModelRow>> {
    if (args.orderBy?.field === ModelSortField.SCORE) return this.listByScore(args);
    const first = pageSize(args.first);
    const cursor = decodeCursor(args.after);
    const field = args.orderBy?.field === ModelSortField.NAME ? "name" : "createdAt";
    const defaultDirection = field === "name" ? SortDirection.ASC : SortDirection.DESC;
    const direction = (args.orderBy?.direction ?? defaultDirection) === SortDirection.ASC ? "asc" : "desc";
    const cursorOf = (m: ModelRow) => encodeCursor(field === "name" ? m.name : m.createdAt.toISOString(), m.id);
    if (this.reads && isEmptyFilter(args.where)) {
      const reads = this.reads;
      const includeDeleted = Boolean(args.includeDeleted);
      const rows = await reads.page({ field, direction, after: cursor, take: first + 1, includeDeleted });
      return connectionFrom(rows, first, cursor !== null, () => reads.count(includeDeleted), cursorOf);
    }
    const filters = [this.buildWhere(args.where ?? {}, "where", 0)];
    if (!args.includeDeleted) filters.push({ deletedAt: null });
    const where = { AND: filters };
    const rows = await this.db.model.findMany({
      where: { AND: [where, keysetAfter(field, direction, cursor, field === "createdAt")] },
      orderBy: [{ [field]: direction }, { id: direction }],
      take: first + 1,
    });
    return connectionFrom(rows, first, cursor !== null, () => this.db.model.count({ where }), cursorOf);
  }

  /**
   * Sorted by the canonical score on one dataset: scored models first (by score, then id), then
   * the unscored ones (by id). The cursor's value is the score, or null once in the unscored part.
   */
  private async listByScore(args: ModelListArgs): Promise<Connection<ModelRow>> {
    const datasetId = args.orderBy?.datasetId;
    if (!datasetId) throw badInput("orderBy.datasetId is required to sort by SCORE", "orderBy.datasetId");
    const first = pageSize(args.first);
    const cursor = decodeCursor(args.after);
    const asc = args.orderBy?.direction === SortDirection.ASC;
    const filters = [this.buildWhere(args.where ?? {}, "where", 0)];
    if (!args.includeDeleted) filters.push({ deletedAt: null });
    const where = { AND: filters };
    const out: Array<{ model: ModelRow; score: number | null }> = [];
    if (!cursor || cursor.value !== null) {
      const op = asc ? "gt" : "lt";
      const after = cursor ? { OR: [{ score: { [op]: Number(cursor.value) } }, { score: Number(cursor.value), modelId: { gt: cursor.id } }] } : {};
      const scored = await this.db.modelScore.findMany({
        where: { AND: [{ datasetId, model: where }, after] },
        orderBy: [{ score: asc ? "asc" : "desc" }, { modelId: "asc" }],
        take: first + 1,
        include: { model: true },
      });
      out.push(...scored.map((s) => ({ model: s.model, score: s.score })));
    }
    if (out.length <= first) {
      const unscored = await this.db.model.findMany({
        where: { AND: [where, { scores: { none: { datasetId } } }, cursor && cursor.value === null ? { id: { gt: cursor.id } } : {}] },
        orderBy: { id: "asc" },
        take: first + 1 - out.length,
      });
      out.push(...unscored.map((model) => ({ model, score: null })));
    }
    const totalCount = await this.db.model.count({ where });
    const connection = connectionFrom(out, first, cursor !== null, totalCount, (r) => encodeCursor(r.score, r.model.id));
    return { ...connection, edges: connection.edges.map((e) => ({ cursor: e.cursor, node: e.node.model })) };
  }

  async create(input: ModelInput): Promise<ModelRow> {
    return this.insert(await this.validateForCreate(input));
  }

  /**
   * Checks a new model's fields (and that its name + version is free) without writing, so that
   * registration can refuse bad metadata before it stores or parses anything.
   */
  async validateForCreate(input: ModelInput): Promise<ValidatedModel> {
    const { data, nameTaken, taskKind } = await this.checkInput(input, false);
    const tags = tagList(input.tags, "input.tags") ?? [];
    if (nameTaken) throw this.nameTaken(data.name!, data.version!);
    return { data: { ...data, name: data.name!, taskId: data.taskId!, version: data.version! }, tags, taskKind };
  }

  /** Inserts a validated model, optionally inside a transaction and with extra columns. */
  async insert(validated: ValidatedModel, extra: InsertExtra = {}, tx: Db = this.db): Promise<ModelRow> {
    const { data, tags } = validated;
    try {
      // Without tags, no nested write: Prisma then inserts with RETURNING instead of inserting and
      // reading the row back.
      return await tx.model.create({
        data: { ...data, ...extra, ...(tags.length ? { tags: { create: tags.map((tag) => ({ tag })) } } : {}) } as Parameters<Db["model"]["create"]>[0]["data"],
      });
    } catch (error) {
      throw this.insertFailed(validated, error);
    }
  }

  /**
   * `insert` as plain statements in a direct transaction (persistence/directSql), for
   * registration's hot path: the row is built here (id and timestamps chosen here, as Prisma
   * would) and its artifact is named by sha256, the Artifact row being written or found in the
   * same transaction. Errors are the driver's; `insertFailed` maps them.
   */
  async insertDirect(tx: DirectQueries, validated: ValidatedModel, extra: { structureId: string; artifactSha256: string }): Promise<ModelRow> {
    const { data, tags } = validated;
    const text = (key: string) => (data[key] as string | null | undefined) ?? null;
    const now = new Date();
    const inference = data.inference == null ? null : JSON.stringify(data.inference);
    const row: ModelRow = {
      id: cuid(),
      name: data.name,
      version: data.version,
      description: text("description"),
      taskId: data.taskId,
      architecture: text("architecture"),
      backboneId: text("backboneId"),
      sourceDatasetId: text("sourceDatasetId"),
      targetDatasetId: text("targetDatasetId"),
      udaStrategy: text("udaStrategy"),
      origin: data.origin as string, // checkInput's default for a new model: TRAINED
      // What reading the stored JSON back gives.
      inference: inference == null ? null : JSON.parse(inference),
      graphModelId: text("graphModelId"),
      artifactId: null,
      structureId: extra.structureId,
      deletedAt: null,
      createdAt: now,
      updatedAt: now,
    };
    const [written] = await tx.query(sql`INSERT INTO "Model" ("id", "name", "version", "description", "taskId", "architecture", "backboneId", "sourceDatasetId", "targetDatasetId", "udaStrategy", "origin", "inference", "graphModelId", "artifactId", "structureId", "createdAt", "updatedAt")
      VALUES (${row.id}, ${row.name}, ${row.version}, ${row.description}, ${row.taskId}, ${row.architecture}, ${row.backboneId}, ${row.sourceDatasetId}, ${row.targetDatasetId}, ${row.udaStrategy}, ${row.origin}, ${inference}, ${row.graphModelId},
        (SELECT "id" FROM "Artifact" WHERE "sha256" = ${extra.artifactSha256}), ${row.structureId}, ${now}, ${now})
      RETURNING "artifactId"`);
    row.artifactId = (written?.artifactId as string | null | undefined) ?? null;
    if (!row.artifactId) throw new Error(`no Artifact row for ${extra.artifactSha256}`);
    if (tags.length) await tx.execute(sql`INSERT INTO "ModelTag" ("modelId", "tag") VALUES ${joinSql(tags.map((tag) => sql`(${row.id}, ${tag})`), ", ")}`);
    return row;
  }

  insertFailed(validated: ValidatedModel, error: unknown): unknown {
    return isUniqueViolation(error) ? this.nameTaken(validated.data.name, validated.data.version) : error;
  }

  private nameTaken(name: string, version: string) {
    return conflict(`model ${name} version ${version} already exists (deleted models keep their name and version)`, "input.version");
  }

  async update(id: string, input: Partial<ModelInput>): Promise<ModelRow> {
    const current = await this.requireLive(id);
    const { data } = await this.checkInput(input, true);
    const graphModelId = input.graphModelId !== undefined ? input.graphModelId : current.graphModelId;
    if (graphModelId != null && (input.graphModelId != null || input.taskId != null)) {
      await this.checkGraphModel(graphModelId, input.taskId ?? current.taskId, current.id);
    }
    // A contract read from the file keeps the fields this update does not give.
    if (input.inference != null) data.inference = updateContract(current.inference as StoredContract | null, input.inference) as unknown as object;
    const tags = tagList(input.tags, "input.tags");
    try {
      return await this.db.$transaction(async (tx) => {
        if (tags) {
          await tx.modelTag.deleteMany({ where: { modelId: id } });
          if (tags.length) await tx.modelTag.createMany({ data: tags.map((tag) => ({ modelId: id, tag })) });
        }
        return tx.model.update({ where: { id: current.id }, data });
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`that model name and version are already taken`, "input.version");
      throw error;
    }
  }

  /**
   * Soft delete: the row stays (its name + version stay taken, its artifact is kept, lineage
   * through it still resolves) but lists hide it. Refused while live children derive from it or
   * live checkpoints run through it (graphModelId).
   */
  async delete(id: string): Promise<ModelRow> {
    const model = await this.requireLive(id);
    const children = await this.db.lineageEdge.findMany({
      where: { parentId: id, child: { deletedAt: null } },
      select: { child: { select: { name: true, version: true } } },
      take: 5,
    });
    if (children.length > 0) {
      const names = children.map((c) => `${c.child.name}@${c.child.version}`).join(", ");
      throw conflict(`model ${model.name}@${model.version} has children that derive from it (${names}); delete them first`);
    }
    const runThrough = await this.db.model.findMany({ where: { graphModelId: id, deletedAt: null }, select: { name: true, version: true }, take: 5 });
    if (runThrough.length > 0) {
      const names = runThrough.map((c) => `${c.name}@${c.version}`).join(", ");
      throw conflict(`model ${model.name}@${model.version} is the graph model of ${names}; give them another graphModelId or delete them first`);
    }
    return this.db.model.update({ where: { id }, data: { deletedAt: new Date() } });
  }

  async requireLive(id: string): Promise<ModelRow> {
    const model = await this.db.model.findUnique({ where: { id } });
    if (!model || model.deletedAt) throw notFound("model", id, "id");
    return model;
  }

  /**
   * The checked columns, and for a new model whether its name + version is taken. References are
   * reported first (task, backbone, source, target), then field errors in column order.
   */
  private async checkInput(input: Partial<ModelInput>, partial: boolean) {
    if (!partial && !input.taskId) throw badInput("input.taskId is required", "input.taskId");
    // A new model's name + version, when valid, is looked up in the references' statement.
    const key = partial ? undefined : nameAndVersion(input);
    // An update naming no reference has nothing to look up.
    const found: Partial<Awaited<ReturnType<ModelService["lookUp"]>>> = key || REFERENCES.some((name) => input[name] != null) ? await this.lookUp(input, key) : {};
    for (const name of REFERENCES) {
      const id = input[name];
      if (id != null && found[name] == null) throw badInput(`input.${name} ${JSON.stringify(id)} does not exist`, `input.${name}`);
    }
    const version = input.version === undefined && partial ? undefined : optionalText(input.version, "input.version", 100) ?? "1";
    const data = {
      name: partial && input.name == null ? undefined : requiredText(input.name, "input.name"),
      version,
      description: optionalText(input.description, "input.description", 10_000),
      taskId: input.taskId ?? undefined,
      architecture: optionalText(input.architecture, "input.architecture"),
      backboneId: input.backboneId,
      sourceDatasetId: input.sourceDatasetId,
      targetDatasetId: input.targetDatasetId,
      udaStrategy: optionalText(input.udaStrategy, "input.udaStrategy"),
      origin: input.origin != null ? oneOf(input.origin, ModelOrigin, "input.origin") : partial ? undefined : ModelOrigin.TRAINED,
      inference: input.inference != null ? (checkInferenceContract(input.inference) as unknown as object) : undefined,
      graphModelId: input.graphModelId,
    };
    if (!partial && input.graphModelId != null) await this.checkGraphModel(input.graphModelId, input.taskId!);
    return { data, nameTaken: found.taken != null, taskKind: found.taskKind ?? null };
  }

  /**
   * A graph model is what evaluation runs a checkpoint's tensors through: it must be a live ONNX
   * model of the same task (its initializers are mapped when evaluated, which checks the rest).
   */
  private async checkGraphModel(graphModelId: string, taskId: string, selfId?: string): Promise<void> {
    const field = "input.graphModelId";
    if (graphModelId === selfId) throw badInput(`${field}: a model cannot be its own graph model`, field);
    const graph = await this.db.model.findUnique({ where: { id: graphModelId }, include: { artifact: { select: { format: true } }, task: { select: { key: true } } } });
    if (!graph || graph.deletedAt) throw badInput(`${field} ${JSON.stringify(graphModelId)} is not a live model`, field);
    const label = `${graph.name}@${graph.version}`;
    if (graph.artifact?.format !== "onnx") throw badInput(`${field}: ${label} ${graph.artifact ? `is ${graph.artifact.format}` : "has no weights"}; a graph model must be an ONNX model`, field);
    if (graph.taskId !== taskId) throw badInput(`${field}: ${label} is a model of task ${graph.task.key}; a graph model must have the same task as the model`, field);
  }

  /**
   * One statement for what validation reads (each reference given, and the model holding this
   * name + version): registration's known-structure latency target leaves no room for a round
   * trip per lookup (measured by bench:candidates).
   */
  private async lookUp(input: Partial<ModelInput>, key: { name: string; version: string } | undefined) {
    const id = (value: string | null | undefined) => value ?? null;
    const statement = sql`SELECT
      (SELECT "id" FROM "Task" WHERE "id" = ${id(input.taskId)}) AS "taskId",
      (SELECT "kind" FROM "Task" WHERE "id" = ${id(input.taskId)}) AS "taskKind",
      (SELECT "id" FROM "Backbone" WHERE "id" = ${id(input.backboneId)}) AS "backboneId",
      (SELECT "id" FROM "Dataset" WHERE "id" = ${id(input.sourceDatasetId)}) AS "sourceDatasetId",
      (SELECT "id" FROM "Dataset" WHERE "id" = ${id(input.targetDatasetId)}) AS "targetDatasetId",
      ${key ? sql`(SELECT "id" FROM "Model" WHERE "name" = ${key.name} AND "version" = ${key.version})` : sql`NULL`} AS "taken"`;
    // Straight to the driver when this service has direct reads (the API's): through Prisma's
    // query engine this one statement cost more CPU than executing it.
    const [row] = this.reads
      ? await this.reads.rows(statement)
      : await this.db.$queryRawUnsafe<Array<Record<string, unknown>>>(statementText(this.provider, statement), ...statement.values);
    return row as Record<(typeof REFERENCES)[number] | "taken" | "taskKind", string | null>;
  }

  private buildWhere(where: ModelWhere, field: string, depth: number): Record<string, unknown> {
    if (depth > MAX_FILTER_NESTING) throw badInput(`${field} nests AND/OR/NOT more than ${MAX_FILTER_NESTING} levels`, field);
    const parts: Record<string, unknown>[] = [];
    if (where.ids != null) parts.push({ id: { in: where.ids } });
    if (where.taskId != null) parts.push({ taskId: where.taskId });
    if (where.backboneId != null) parts.push({ backboneId: where.backboneId });
    if (where.architecture != null) parts.push({ architecture: where.architecture });
    if (where.udaStrategy != null) parts.push({ udaStrategy: where.udaStrategy });
    if (where.origin != null) parts.push({ origin: oneOf(where.origin, ModelOrigin, `${field}.origin`) });
    if (where.sourceDatasetId != null) parts.push({ sourceDatasetId: where.sourceDatasetId });
    if (where.targetDatasetId != null) parts.push({ targetDatasetId: where.targetDatasetId });
    if (where.datasetId != null) parts.push({ OR: [{ sourceDatasetId: where.datasetId }, { targetDatasetId: where.datasetId }] });
    for (const tag of where.tagsAll ?? []) parts.push({ tags: { some: { tag } } });
    if (where.tagsAny != null) parts.push({ tags: { some: { tag: { in: where.tagsAny } } } });
    if (where.nameContains != null) parts.push({ name: containsInsensitive(where.nameContains, this.provider) });
    if (where.createdAfter != null) parts.push({ createdAt: { gte: where.createdAfter } });
    if (where.createdBefore != null) parts.push({ createdAt: { lt: where.createdBefore } });
    if (where.AND) parts.push({ AND: where.AND.map((w, i) => this.buildWhere(w, `${field}.AND.${i}`, depth + 1)) });
    if (where.OR) parts.push({ OR: where.OR.map((w, i) => this.buildWhere(w, `${field}.OR.${i}`, depth + 1)) });
    if (where.NOT) parts.push({ NOT: this.buildWhere(where.NOT, `${field}.NOT`, depth + 1) });
    return parts.length ? { AND: parts } : {};
  }
}

/** No filter given, or only fields left null (a GraphQL client sending its form's empty values). */
function isEmptyFilter(where: ModelWhere | null | undefined): boolean {
  return !where || Object.values(where).every((value) => value == null);
}
