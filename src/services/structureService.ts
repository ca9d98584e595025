import type { Db, Provider } from "../persistence/database";
import { containsInsensitive } from "./datasetService";
import { badInput } from "../core/errors";
import { compareStructures, StructureComparison } from "../core/structure/compareStructures";
import { MATCHING_CHOICES, resolveMatching, type MatchingChoice } from "../core/structure/tensorMatching";
import type { StructureCatalog } from "./structureCatalog";
import { connectionFrom, decodeCursor, encodeCursor, pageSize } from "./pagination";

export type StructureRow = Awaited<ReturnType<Db["structure"]["findFirstOrThrow"]>>;
export type StructureTensorRow = Awaited<ReturnType<Db["structureTensor"]["findFirstOrThrow"]>>;

export const MAX_TENSOR_PAGE = 1000;

/** Reading parameter structures: tensors page by page, and side-by-side comparisons. */
export class StructureService {
  constructor(private readonly db: Db, private readonly catalog: StructureCatalog, private readonly provider: Provider = "sqlite") {}

  async tensors(structureId: string, args: { first?: number | null; after?: string | null; group?: string | null; nameContains?: string | null }) {
    const first = pageSize(args.first, "first", MAX_TENSOR_PAGE, 100);
    const cursor = decodeCursor(args.after);
    const where = { structureId, ...(args.group != null ? { group: args.group } : {}), ...(args.nameContains ? { name: containsInsensitive(args.nameContains, this.provider) } : {}) };
    const [rows, totalCount] = await Promise.all([
      this.db.structureTensor.findMany({
        where: { ...where, ...(cursor ? { position: { gt: Number(cursor.value) } } : {}) },
        orderBy: { position: "asc" },
        take: first + 1,
      }),
      this.db.structureTensor.count({ where }),
    ]);
    const tensors = rows.map((t) => ({ ...t, shape: JSON.parse(t.shape) as number[], elements: Number(t.elements) }));
    return connectionFrom(tensors, first, cursor !== null, totalCount, (t) => encodeCursor(t.position, t.structureId));
  }

  /** `matching` AUTO (the default) pairs by position when either side's names were generated. */
  async compare(aModelId: string, bModelId: string, cap = 100, matching: MatchingChoice = "AUTO") {
    if (!Number.isInteger(cap) || cap < 0 || cap > 10_000) throw badInput(`cap must be an integer from 0 to 10000 (got ${cap})`, "cap");
    if (!MATCHING_CHOICES.includes(matching)) throw badInput(`matching must be one of ${MATCHING_CHOICES.join(", ")} (got ${JSON.stringify(matching)})`, "matching");
    const [a, b] = await Promise.all([this.structureOf(aModelId, "aId"), this.structureOf(bModelId, "bId")]);
    const [sa, sb] = await Promise.all([this.catalog.get(a), this.catalog.get(b)]);
    const comparison: StructureComparison = compareStructures(sa, sb, cap, resolveMatching(matching, sa, sb));
    const shared = { total: comparison.shared.total, items: comparison.shared.items.map((t) => ({ ...t, nameB: t.nameB ?? t.name })) };
    return { ...comparison, shared, mismatches: comparison.mismatched };
  }

  private async structureOf(modelId: string, field: string): Promise<string> {
    const model = await this.db.model.findUnique({ where: { id: modelId }, select: { structureId: true } });
    if (!model) throw badInput(`${field} ${JSON.stringify(modelId)} does not exist`, field);
    if (!model.structureId) throw badInput(`${field}: the model has no registered artifact, so no structure`, field);
    return model.structureId;
  }
}
