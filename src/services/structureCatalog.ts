import type { Db } from "../persistence/database";
import type { StructureLike } from "../core/structure/overlapIndex";
import type { DType, LayerOrderSource, ParsedModel } from "../core/structure/types";

/** A stored structure as the catalog keeps it: its tensors and the facts candidates report. */
export interface CatalogStructure extends StructureLike {
  /** Tensor names an exporter generated (matching by name is then unreliable). */
  generatedNameCount: number;
  groups: Array<{ prefix: string; tensorCount: number; parameterCount: number }>;
}

/**
 * Structures are immutable once stored, so each process keeps their tensor lists in memory
 * (loaded lazily, refreshed by id) and overlap against all known structures costs no database
 * reads. The overlap index built from each object is cached by core (WeakMap on the object),
 * which is why the same object is handed out every time.
 */
export class StructureCatalog {
  private readonly byId = new Map<string, CatalogStructure>();
  private readonly plans = new Map<string, ParsedModel>();
  private loadedAll = false;

  constructor(private readonly db: Db) {}

  async get(id: string): Promise<CatalogStructure> {
    const cached = this.byId.get(id);
    if (cached) return cached;
    const [loaded] = await this.load([id]);
    return loaded;
  }

  /** Every stored structure except `exceptId`, fetching those created since the last call. */
  async all(exceptId?: string): Promise<Array<{ id: string; structure: CatalogStructure }>> {
    const ids = await this.db.structure.findMany({ select: { id: true } });
    const missing = ids.map((s) => s.id).filter((id) => !this.byId.has(id));
    if (missing.length) await this.load(missing);
    this.loadedAll = true;
    return ids.filter((s) => s.id !== exceptId).map((s) => ({ id: s.id, structure: this.byId.get(s.id)! }));
  }

  /**
   * The structure as a ParsedModel without data locations: enough for merge planning and
   * previews (names, shapes, dtypes, layer indices), with no artifact read.
   */
  async planModel(id: string): Promise<ParsedModel> {
    const cached = this.plans.get(id);
    if (cached) return cached;
    const structure = await this.db.structure.findUniqueOrThrow({ where: { id }, select: { format: true, layerCount: true, layerOrderSource: true, generatedNameCount: true } });
    const rows = await this.db.structureTensor.findMany({ where: { structureId: id }, orderBy: { position: "asc" } });
    const parsed: ParsedModel = {
      format: structure.format as ParsedModel["format"],
      layerCount: structure.layerCount,
      layerOrderSource: structure.layerOrderSource as LayerOrderSource,
      generatedNameCount: structure.generatedNameCount,
      metadata: {},
      tensors: rows.map((r) => ({
        name: r.name,
        shape: JSON.parse(r.shape) as number[],
        dtype: r.dtype as DType,
        elements: Number(r.elements),
        mergeable: r.mergeable,
        layerIndex: r.layerIndex,
        group: r.group,
        ...(r.positionKey !== null ? { positionKey: r.positionKey } : {}),
        location: { kind: "raw" as const, offset: 0, length: 0 },
      })),
    };
    this.plans.set(id, parsed);
    return parsed;
  }

  remember(id: string, structure: CatalogStructure): void {
    this.byId.set(id, structure);
  }

  get size(): number {
    return this.byId.size;
  }

  get warmed(): boolean {
    return this.loadedAll;
  }

  private async load(ids: string[]): Promise<CatalogStructure[]> {
    const out: CatalogStructure[] = [];
    // Bounded batches keep the IN list within SQLite's parameter limit.
    for (let i = 0; i < ids.length; i += 200) {
      const batch = ids.slice(i, i + 200);
      const [rows, facts] = await Promise.all([
        this.db.structureTensor.findMany({
          where: { structureId: { in: batch } },
          orderBy: [{ structureId: "asc" }, { position: "asc" }],
          select: { structureId: true, name: true, shape: true, dtype: true, mergeable: true, group: true, elements: true, positionKey: true, layerIndex: true },
        }),
        this.db.structure.findMany({ where: { id: { in: batch } }, select: { id: true, generatedNameCount: true, groups: true } }),
      ]);
      const grouped = new Map<string, StructureLike["tensors"][number][]>(batch.map((id) => [id, []]));
      for (const r of rows) {
        grouped.get(r.structureId)!.push({
          name: r.name, shape: JSON.parse(r.shape), dtype: r.dtype as DType, mergeable: r.mergeable, group: r.group, elements: Number(r.elements), positionKey: r.positionKey, layerIndex: r.layerIndex,
        });
      }
      const factsById = new Map(facts.map((f) => [f.id, f]));
      for (const id of batch) {
        const f = factsById.get(id);
        if (!f) throw new Error(`structure ${id} does not exist`);
        const structure: CatalogStructure = { tensors: grouped.get(id)!, generatedNameCount: f.generatedNameCount, groups: f.groups as CatalogStructure["groups"] };
        this.byId.set(id, structure);
        out.push(structure);
      }
    }
    return out;
  }
}
