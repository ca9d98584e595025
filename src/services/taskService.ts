import type { Db } from "../persistence/database";
import { conflict, notFound } from "../core/errors";
import { PrimaryMetric, TaskKind } from "../domain/enums";
import { oneOf, requiredText, slug } from "./validate";
import { isUniqueViolation } from "./prismaErrors";

export interface TaskInput {
  key: string;
  name: string;
  kind: string;
  primaryMetric: string;
}

export class TaskService {
  constructor(private readonly db: Db) {}

  list() {
    return this.db.task.findMany({ orderBy: [{ key: "asc" }] });
  }

  get(id: string) {
    return this.db.task.findUnique({ where: { id } });
  }

  async create(input: TaskInput) {
    const data = {
      key: slug(input.key, "input.key"),
      name: requiredText(input.name, "input.name"),
      kind: oneOf(input.kind, TaskKind, "input.kind"),
      primaryMetric: oneOf(input.primaryMetric, PrimaryMetric, "input.primaryMetric"),
    };
    try {
      return await this.db.task.create({ data });
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`a task with key ${JSON.stringify(data.key)} already exists`, "input.key");
      throw error;
    }
  }

  async update(id: string, input: Partial<TaskInput>) {
    await this.require(id);
    const data = {
      key: input.key != null ? slug(input.key, "input.key") : undefined,
      name: input.name != null ? requiredText(input.name, "input.name") : undefined,
      kind: input.kind != null ? oneOf(input.kind, TaskKind, "input.kind") : undefined,
      primaryMetric: input.primaryMetric != null ? oneOf(input.primaryMetric, PrimaryMetric, "input.primaryMetric") : undefined,
    };
    try {
      return await this.db.task.update({ where: { id }, data });
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`a task with key ${JSON.stringify(data.key)} already exists`, "input.key");
      throw error;
    }
  }

  async delete(id: string) {
    const task = await this.require(id);
    const [models, datasets] = await Promise.all([
      this.db.model.count({ where: { taskId: id } }),
      this.db.dataset.count({ where: { taskId: id } }),
    ]);
    if (models + datasets > 0) {
      throw conflict(`task ${task.key} is used by ${models} model(s) and ${datasets} dataset(s); delete or move them first`);
    }
    await this.db.task.delete({ where: { id } });
    return task;
  }

  private async require(id: string) {
    const task = await this.db.task.findUnique({ where: { id } });
    if (!task) throw notFound("task", id, "id");
    return task;
  }
}
