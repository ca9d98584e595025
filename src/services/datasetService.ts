import type { Db, Provider } from "../persistence/database";
import { badInput, conflict, notFound } from "../core/errors";
import { DatasetFormat, DatasetSortField, SortDirection } from "../domain/enums";
import { oneOf, optionalText, requiredText } from "./validate";
import { isUniqueViolation } from "./prismaErrors";
import { Connection, connectionFrom, decodeCursor, encodeCursor, keysetAfter, pageSize } from "./pagination";
import type { ThreadPool } from "../threads/threadPool";
import * as fs from "node:fs/promises";
import { confinePath, datasetRule } from "./pathConfinement";

export interface DatasetClass {
  /** The model's output channel. */
  id: number;
  name: string;
  isThing: boolean;
  /** The id used in the dataset's own files when it differs (e.g. a Cityscapes labelId). */
  datasetId: number;
}

export interface DatasetInput {
  name: string;
  taskId: string;
  domain?: string | null;
  split?: string | null;
  format: string;
  location: string;
  ignoreIndex?: number | null;
  classes: Array<{ id: number; name: string; isThing: boolean; datasetId?: number | null }>;
  /** Check the files now (default true); false records the dataset without looking at them. */
  verify?: boolean | null;
}

export interface DatasetWhere {
  AND?: DatasetWhere[] | null;
  OR?: DatasetWhere[] | null;
  NOT?: DatasetWhere | null;
  taskId?: string | null;
  domain?: string | null;
  split?: string | null;
  format?: string | null;
  nameContains?: string | null;
}

export interface DatasetListArgs {
  where?: DatasetWhere | null;
  orderBy?: { field: DatasetSortField; direction?: SortDirection | null } | null;
  first?: number | null;
  after?: string | null;
}

const MAX_CLASSES = 10_000;
const MAX_FILTER_NESTING = 6;

export class DatasetService {
  constructor(
    private readonly db: Db,
    private readonly provider: Provider,
    private readonly pool?: ThreadPool,
    /** LAYERMERGE_DATASET_ROOTS: every location, verified or not, must lie under one. */
    private readonly roots: readonly string[] = [],
  ) {}

  get(id: string) {
    return this.db.dataset.findUnique({ where: { id } });
  }

  async list(args: DatasetListArgs): Promise<Connection<Awaited<ReturnType<Db["dataset"]["findFirstOrThrow"]>>>> {
    const first = pageSize(args.first);
    const cursor = decodeCursor(args.after);
    const field = args.orderBy?.field === DatasetSortField.NAME ? "name" : "createdAt";
    const direction = (args.orderBy?.direction ?? (field === "name" ? SortDirection.ASC : SortDirection.DESC)) === SortDirection.ASC ? "asc" : "desc";
    const where = this.buildWhere(args.where ?? {}, "where", 0);
    const [rows, totalCount] = await Promise.all([
      this.db.dataset.findMany({
        where: { AND: [where, keysetAfter(field, direction, cursor, field === "createdAt")] },
        orderBy: [{ [field]: direction }, { id: direction }],
        take: first + 1,
      }),
      this.db.dataset.count({ where }),
    ]);
    return connectionFrom(rows, first, cursor !== null, totalCount, (d) =>
      encodeCursor(field === "name" ? d.name : d.createdAt.toISOString(), d.id),
    );
  }

  async create(input: DatasetInput) {
    const task = await this.db.task.findUnique({ where: { id: input.taskId } });
    if (!task) throw badInput(`taskId ${JSON.stringify(input.taskId)} is not a known task`, "input.taskId");
    const ignoreIndex = input.ignoreIndex ?? 255;
    const data = {
      name: requiredText(input.name, "input.name"),
      taskId: task.id,
      domain: optionalText(input.domain, "input.domain") ?? null,
      split: optionalText(input.split, "input.split") ?? "val",
      format: oneOf(input.format, DatasetFormat, "input.format"),
      location: requiredText(input.location, "input.location", 4096),
      ignoreIndex: checkIgnoreIndex(ignoreIndex),
      classes: checkClasses(input.classes, ignoreIndex) as unknown as object,
    };
    // Confined before anything is read, verify: false included (it is read at evaluation).
    const folder = await confinePath(data.location, datasetRule(this.roots));
    const checked = input.verify === false ? {} : await this.verify({ ...data, classes: data.classes as unknown as DatasetClass[] }, folder);
    try {
      return await this.db.dataset.create({ data: { ...data, ...checked } });
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`dataset ${JSON.stringify(data.name)} already has a split ${JSON.stringify(data.split)}`, "input.name");
      throw error;
    }
  }

  /**
   * Reads the split's files (in a pool thread): pairing, label values against the class list,
   * isThing against a panoptic JSON; records count, size and checksum. Any problem refuses the
   * dataset with BAD_USER_INPUT listing the files at fault. `folder` is
   * the location as `confinePath` resolved it; messages name the location as given.
   */
  private async verify(data: { format: string; location: string; classes: DatasetClass[]; ignoreIndex: number; split: string }, folder: string) {
    if (!this.pool) throw new Error("dataset verification needs the thread pool");
    const stat = await fs.stat(folder).catch(() => null);
    if (!stat?.isDirectory()) throw badInput(`input.location: no folder at ${data.location} (pass verify: false to record a dataset stored elsewhere)`, "input.location");
    const report = await this.pool.run("validateDataset", {
      spec: { format: data.format as never, location: folder, classes: data.classes, ignoreIndex: data.ignoreIndex, split: data.split },
    });
    if (report.images === 0 && report.problems.length === 0) throw badInput(`${data.location} holds no ${data.format} ${data.format === "IMAGES" ? "images" : "image/label pairs"}`, "input.location");
    if (!report.ok) {
      const shown = report.problems.slice(0, 20).map((p) => `${p.file}: ${p.message}`);
      const more = report.problems.length > 20 || report.truncated ? ` (and more; ${report.problems.length}${report.truncated ? "+" : ""} problems)` : "";
      throw badInput(`the dataset has problems — ${shown.join("; ")}${more}`, "input.location", { problems: report.problems.slice(0, 200) });
    }
    return { imageCount: report.images, sizeBytes: BigInt(report.totalBytes), checksum: report.checksum };
  }

  async update(id: string, input: Partial<DatasetInput>) {
    const current = await this.require(id);
    const ignoreIndex = input.ignoreIndex ?? current.ignoreIndex;
    if (input.taskId != null && !(await this.db.task.findUnique({ where: { id: input.taskId } }))) {
      throw badInput(`taskId ${JSON.stringify(input.taskId)} is not a known task`, "input.taskId");
    }
    if (input.location != null) await confinePath(requiredText(input.location, "input.location", 4096), datasetRule(this.roots));
    const data = {
      name: input.name != null ? requiredText(input.name, "input.name") : undefined,
      taskId: input.taskId ?? undefined,
      domain: optionalText(input.domain, "input.domain"),
      split: input.split != null ? requiredText(input.split, "input.split") : undefined,
      format: input.format != null ? oneOf(input.format, DatasetFormat, "input.format") : undefined,
      location: input.location != null ? requiredText(input.location, "input.location", 4096) : undefined,
      ignoreIndex: input.ignoreIndex != null ? checkIgnoreIndex(input.ignoreIndex) : undefined,
      classes:
        input.classes != null
          ? (checkClasses(input.classes, ignoreIndex) as unknown as object)
          : input.ignoreIndex != null
            ? (checkClasses(current.classes as unknown as DatasetClass[], ignoreIndex) as unknown as object)
            : undefined,
    };
    try {
      return await this.db.dataset.update({ where: { id }, data });
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`that dataset name and split are already taken`, "input.name");
      throw error;
    }
  }

  async delete(id: string) {
    const dataset = await this.require(id);
    const [models, evaluations] = await Promise.all([
      this.db.model.count({ where: { OR: [{ sourceDatasetId: id }, { targetDatasetId: id }] } }),
      this.db.evaluation.count({ where: { datasetId: id } }),
    ]);
    if (models + evaluations > 0) {
      throw conflict(`dataset ${dataset.name} is referenced by ${models} model(s) and ${evaluations} evaluation(s)`);
    }
    await this.db.dataset.delete({ where: { id } });
    return dataset;
  }

  private async require(id: string) {
    const dataset = await this.db.dataset.findUnique({ where: { id } });
    if (!dataset) throw notFound("dataset", id, "id");
    return dataset;
  }

  private buildWhere(where: DatasetWhere, field: string, depth: number): Record<string, unknown> {
    if (depth > MAX_FILTER_NESTING) throw badInput(`${field} nests AND/OR/NOT more than ${MAX_FILTER_NESTING} levels`, field);
    const parts: Record<string, unknown>[] = [];
    if (where.taskId != null) parts.push({ taskId: where.taskId });
    if (where.domain != null) parts.push({ domain: where.domain });
    if (where.split != null) parts.push({ split: where.split });
    if (where.format != null) parts.push({ format: oneOf(where.format, DatasetFormat, `${field}.format`) });
    if (where.nameContains != null) parts.push({ name: containsInsensitive(where.nameContains, this.provider) });
    if (where.AND) parts.push({ AND: where.AND.map((w, i) => this.buildWhere(w, `${field}.AND.${i}`, depth + 1)) });
    if (where.OR) parts.push({ OR: where.OR.map((w, i) => this.buildWhere(w, `${field}.OR.${i}`, depth + 1)) });
    if (where.NOT) parts.push({ NOT: this.buildWhere(where.NOT, `${field}.NOT`, depth + 1) });
    return parts.length ? { AND: parts } : {};
  }
}

/** SQLite's LIKE is case-insensitive for ASCII already; PostgreSQL needs Prisma's `mode`. */
export function containsInsensitive(text: string, provider: Provider): Record<string, unknown> {
  return provider === "postgres" ? { contains: text, mode: "insensitive" } : { contains: text };
}

function checkIgnoreIndex(value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > 65535) {
    throw badInput(`input.ignoreIndex must be an integer from 0 to 65535 (got ${value})`, "input.ignoreIndex");
  }
  return value;
}

export function checkClasses(classes: DatasetInput["classes"], ignoreIndex: number): DatasetClass[] {
  if (!Array.isArray(classes) || classes.length === 0) throw badInput("input.classes must list at least one class", "input.classes");
  if (classes.length > MAX_CLASSES) throw badInput(`input.classes may list at most ${MAX_CLASSES} classes`, "input.classes");
  const ids = new Set<number>();
  const datasetIds = new Set<number>();
  const names = new Set<string>();
  const out = classes.map((c, i) => {
    const field = `input.classes.${i}`;
    if (!Number.isInteger(c.id) || c.id < 0) throw badInput(`${field}.id must be a non-negative integer (the model's output channel)`, `${field}.id`);
    const name = requiredText(c.name, `${field}.name`);
    const datasetId = c.datasetId ?? c.id;
    if (!Number.isInteger(datasetId) || datasetId < 0) throw badInput(`${field}.datasetId must be a non-negative integer`, `${field}.datasetId`);
    if (ids.has(c.id)) throw badInput(`${field}.id ${c.id} is listed twice`, `${field}.id`);
    if (datasetIds.has(datasetId)) throw badInput(`${field}.datasetId ${datasetId} is listed twice`, `${field}.datasetId`);
    if (names.has(name)) throw badInput(`${field}.name ${JSON.stringify(name)} is listed twice`, `${field}.name`);
    if (datasetId === ignoreIndex) throw badInput(`${field}: class id ${datasetId} equals the ignore index ${ignoreIndex}`, `${field}.datasetId`);
    ids.add(c.id);
    datasetIds.add(datasetId);
    names.add(name);
    return { id: c.id, name, isThing: Boolean(c.isThing), datasetId };
  });
  return out.sort((a, b) => a.id - b.id);
}
