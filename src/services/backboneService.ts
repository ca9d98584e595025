import type { Db } from "../persistence/database";
import { conflict, notFound } from "../core/errors";
import { optionalText, requiredText } from "./validate";
import { isUniqueViolation } from "./prismaErrors";

export interface BackboneInput {
  name: string;
  family?: string | null;
  parameterPrefix?: string | null;
}

export class BackboneService {
  constructor(private readonly db: Db) {}

  list() {
    return this.db.backbone.findMany({ orderBy: [{ name: "asc" }] });
  }

  get(id: string) {
    return this.db.backbone.findUnique({ where: { id } });
  }

  async create(input: BackboneInput) {
    const data = {
      name: requiredText(input.name, "input.name"),
      family: optionalText(input.family, "input.family"),
      parameterPrefix: optionalText(input.parameterPrefix, "input.parameterPrefix"),
    };
    try {
      return await this.db.backbone.create({ data });
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`a backbone named ${JSON.stringify(data.name)} already exists`, "input.name");
      throw error;
    }
  }

  async update(id: string, input: Partial<BackboneInput>) {
    await this.require(id);
    const data = {
      name: input.name != null ? requiredText(input.name, "input.name") : undefined,
      family: optionalText(input.family, "input.family"),
      parameterPrefix: optionalText(input.parameterPrefix, "input.parameterPrefix"),
    };
    try {
      return await this.db.backbone.update({ where: { id }, data });
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`a backbone named ${JSON.stringify(data.name)} already exists`, "input.name");
      throw error;
    }
  }

  async delete(id: string) {
    const backbone = await this.require(id);
    const models = await this.db.model.count({ where: { backboneId: id } });
    if (models > 0) throw conflict(`backbone ${backbone.name} is used by ${models} model(s)`);
    await this.db.backbone.delete({ where: { id } });
    return backbone;
  }

  private async require(id: string) {
    const backbone = await this.db.backbone.findUnique({ where: { id } });
    if (!backbone) throw notFound("backbone", id, "id");
    return backbone;
  }
}
