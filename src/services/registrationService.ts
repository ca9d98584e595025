import * as fsp from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { randomUUID } from "node:crypto";
import { Prisma } from "../persistence/generated/sqlite/client";
import type { Db } from "../persistence/database";
import { sql, type DirectSql } from "../persistence/directSql";
import { cuid } from "../persistence/cuid";
import { badInput, DomainError } from "../core/errors";
import type { ParsedModel } from "../core/structure/types";
import { summarizeStructure } from "../core/structure/summarizeStructure";
import { moduleOf } from "../core/formats/safetensors/safetensorsLayerOrder";
import { structureKey } from "../core/structure/structureHash";
import { computeOverlap } from "../core/structure/computeOverlap";
import { positionalOverlap, sharesPositions } from "../core/structure/positionalOverlap";
import { overlapIndex } from "../core/structure/overlapIndex";
import { hasPositionKeys, resolveMatching } from "../core/structure/tensorMatching";
import type { ArtifactStore, StoredBlob } from "../storage/artifactStore";
import { SHA256_PATTERN } from "../storage/artifactStore";
import type { ThreadPool } from "../threads/threadPool";
import type { ModelIdentity } from "../threads/threadJobs";
import type { ModelInput, ModelRow, ModelService, ValidatedModel } from "./modelService";
import type { CatalogStructure, StructureCatalog } from "./structureCatalog";
import { resolveImportPath } from "./importPath";
import { isUniqueViolation } from "./prismaErrors";
import { missingBlob, type ArtifactService } from "./artifactService";
import { inferContract, type GraphValue } from "../core/eval/inferContract";
import { contractFromFile } from "./contractFromFile";

export interface RegisterModelInput extends ModelInput {
  artifactSha256?: string | null;
  path?: string | null;
  /** safetensors: module prefixes in forward order. */
  layerOrder?: string[] | null;
  /** safetensors: take the layer order of this registered model (its modules this file has). */
  layerOrderFromModelId?: string | null;
  /** PyTorch checkpoint: the key holding the weights (default: the top level, state_dict, model, module, ema, state_dict_ema). */
  checkpointKey?: string | null;
  /** PyTorch checkpoint: a name prefix to strip (default: `module.` when every name has it). */
  stripPrefix?: string | null;
}

export interface RegistrationConfig {
  importRoots: string[];
  maxUploadBytes: number;
}

/**
 * Registration from an artifact: the bytes are stored content-addressed, parsed in a
 * pool thread, their structure deduplicated and compared with every known structure, and the
 * model recorded — or, on any failure, nothing is left behind (no row, no orphan blob).
 */
export class RegistrationService {
  private readonly structureIds = new Map<string, string>();
  constructor(
    private readonly db: Db,
    private readonly store: ArtifactStore,
    private readonly pool: ThreadPool,
    private readonly catalog: StructureCatalog,
    private readonly models: ModelService,
    private readonly config: RegistrationConfig,
    private readonly direct: DirectSql,
    private readonly artifacts: ArtifactService,
  ) {}

  async register(input: RegisterModelInput): Promise<ModelRow> {
    if (!!input.artifactSha256 === !!input.path) {
      throw badInput("give exactly one of input.artifactSha256 (an uploaded artifact) and input.path (a file under LAYERMERGE_IMPORT_ROOTS)", input.path ? "input.path" : "input.artifactSha256");
    }
    if (input.layerOrder && input.layerOrderFromModelId) throw badInput("give at most one of input.layerOrder and input.layerOrderFromModelId", "input.layerOrder");
    // An uploaded file is read and parsed while the metadata is checked (a round trip saved on
    // PostgreSQL). The metadata's errors still win and still leave the upload in place: the
    // catch below awaits them first. An import is stored only once the metadata has passed.
    const metadata = this.checkMetadata(input);
    const refusal = metadata.then(
      () => undefined,
      (error: unknown) => ({ error }),
    );

    let validated: ValidatedModel;
    let sha256: string;
    let sizeBytes: number;
    let newBlob = false;
    // The blob is pinned from the start until its Artifact row is written (or the registration
    // fails), so this process's upload sweep does not delete it under the registration.
    let unpin: (() => void) | null = null;
    const cleanup: Array<() => Promise<void>> = [];
    try {
      let file: string;
      let order: string[] | undefined;
      let externalDataRoot: string | undefined;
      if (input.artifactSha256) {
        sha256 = input.artifactSha256.toLowerCase();
        if (!SHA256_PATTERN.test(sha256)) throw badInput("input.artifactSha256 must be 64 hex digits", "input.artifactSha256");
        unpin = await this.artifacts.pin(sha256);
        // Both at once (one thread-pool round trip instead of two for the file store); a local
        // copy obtained for an unknown blob is released, and the unknown blob reported.
        const [blob, local] = await Promise.allSettled([this.store.stat(sha256), this.store.localPath(sha256)]);
        if (local.status === "fulfilled") cleanup.push(() => local.value.release());
        if (blob.status === "rejected") throw blob.reason;
        if (!blob.value) throw missingBlob(sha256, "input.artifactSha256");
        if (local.status === "rejected") throw local.reason;
        sizeBytes = blob.value.sizeBytes;
        file = local.value.path;
        // Another model's layer order is read with the metadata; a given one is known already.
        order = input.layerOrderFromModelId ? (await metadata).givenOrder : input.layerOrder ?? undefined;
      } else {
        order = (await metadata).givenOrder;
        file = await resolveImportPath(input.path!, this.config.importRoots);
        const stat = await fsp.stat(file);
        if (stat.size > this.config.maxUploadBytes) throw badInput(`${file} is larger than LAYERMERGE_MAX_UPLOAD_BYTES (${this.config.maxUploadBytes})`, "input.path");
        externalDataRoot = path.dirname(file);
      }
      const parse = {
        file,
        options: {
          layerOrder: order,
          layerOrderFromAnotherModel: input.layerOrderFromModelId != null,
          externalDataRoot,
          checkpointKey: input.checkpointKey ?? undefined,
          stripPrefix: input.stripPrefix ?? undefined,
          maxEntryBytes: this.config.maxUploadBytes,
        },
      };
      // Another process's deletion does not see this process's pin: an upload may vanish while it
      // is read, and then the answer is the one it would have had a moment earlier (NOT_FOUND),
      // not an internal error. (Only the database decides the race: see ArtifactService.)
      const reading = async <T>(read: () => Promise<T>): Promise<T> => {
        try {
          return await read();
        } catch (error) {
          if (input.artifactSha256 && !(error instanceof DomainError) && !(await this.store.stat(sha256))) throw missingBlob(sha256, "input.artifactSha256");
          throw error;
        }
      };
      const identity = await reading(() => this.pool.run("identifyModelFile", parse));
      let layout: string | null = identity.layout;
      if (!input.artifactSha256) {
        const stored = await this.storeImport(file, identity, cleanup);
        ({ sha256, sizeBytes } = stored);
        unpin = await this.artifacts.pin(sha256);
        newBlob = stored.created;
        if (stored.inlined) layout = null; // byte locations in the inlined file differ: merges parse it
      }
      validated = (await metadata).validated;
      if (identity.graphIo) validated = this.withContractFromFile(validated, input, identity.graphIo);
      // The whole parse crosses to this thread only for a structure not stored yet.
      const structureId = (await this.storedStructureId(identity.structureKey)) ?? (await this.createStructure(await reading(() => this.pool.run("parseModelFile", parse)), identity.structureKey));
      return await this.record(validated, structureId, { sha256: sha256!, sizeBytes: sizeBytes!, format: identity.format, layout });
    } catch (error) {
      unpin?.();
      const refused = await refusal;
      if (refused) throw refused.error;
      // An upload or import that did not become a registered artifact is garbage — unless a row
      // references it by now, or another registration in this process is using it.
      const sha = input.artifactSha256?.toLowerCase() ?? (newBlob ? sha256! : undefined);
      if (sha && SHA256_PATTERN.test(sha) && (newBlob || input.artifactSha256)) {
        await this.artifacts.deleteIfUnreferenced(sha).catch(() => undefined);
      }
      throw error;
    } finally {
      unpin?.();
      for (const step of cleanup.reverse()) await step().catch(() => undefined);
    }
  }

  /**
   * An ONNX model's contract: the fields given win, the rest are read from the graph's inputs and
   * outputs (core/eval/inferContract). The task decides what an integer output holds.
   */
  private withContractFromFile(validated: ValidatedModel, input: RegisterModelInput, graphIo: { inputs: GraphValue[]; outputs: GraphValue[] }): ValidatedModel {
    const inference = contractFromFile(inferContract(graphIo, validated.taskKind ?? "SEMANTIC"), input.inference);
    return { ...validated, data: { ...validated.data, inference } };
  }

  /** An imported file into the store; an ONNX model's external data is inlined first. */
  private async storeImport(file: string, identity: ModelIdentity, cleanup: Array<() => Promise<void>>): Promise<StoredBlob & { inlined: boolean }> {
    let storedFrom = file;
    const inlined = identity.format === "onnx" && identity.externalDataFiles.length > 0;
    if (inlined) {
      const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "layermerge-import-"));
      cleanup.push(() => fsp.rm(dir, { recursive: true, force: true }));
      storedFrom = path.join(dir, "model.onnx");
      await this.pool.run("inlineOnnxExternalData", { file, out: storedFrom });
    }
    return { ...(await this.store.putFile(storedFrom, { maxBytes: this.config.maxUploadBytes })), inlined };
  }

  /**
   * The Artifact row (unless these bytes have one: content-addressed) and the Model row in one
   * transaction of plain statements, past Prisma's query engine: through a Prisma batch
   * transaction these two INSERTs cost ~3.6 ms on PostgreSQL, most of a known-structure
   * registration (as bench:candidates measures it).
   */
  private async record(validated: ValidatedModel, structureId: string, artifact: { sha256: string; sizeBytes: number; format: string; layout: string | null }): Promise<ModelRow> {
    try {
      return await this.direct.transaction(async (tx) => {
        const inserted = await tx.execute(sql`INSERT INTO "Artifact" ("id", "sha256", "sizeBytes", "format", "storageKey", "layout", "createdAt")
          VALUES (${cuid()}, ${artifact.sha256}, ${BigInt(artifact.sizeBytes)}, ${artifact.format}, ${artifact.sha256}, ${artifact.layout}, ${new Date()})
          ON CONFLICT ("sha256") DO NOTHING`);
        // A new row: an upload sweep in another process may have deleted the blob just before
        // (with an existing row no sweep could). See ArtifactService.
        if (inserted === 1) await this.artifacts.assertStoredInTransaction(artifact.sha256);
        return this.models.insertDirect(tx, validated, { structureId, artifactSha256: artifact.sha256 });
      });
    } catch (error) {
      throw this.models.insertFailed(validated, error);
    }
  }

  /** The model's fields, checked, and the layer order it names (given, or another model's). */
  private async checkMetadata(input: RegisterModelInput): Promise<{ validated: ValidatedModel; givenOrder: string[] | undefined }> {
    const validated = await this.models.validateForCreate(input);
    const givenOrder = input.layerOrder ?? (input.layerOrderFromModelId ? await this.layerOrderOf(input.layerOrderFromModelId) : undefined);
    return { validated, givenOrder };
  }

  private async layerOrderOf(modelId: string): Promise<string[]> {
    const model = await this.db.model.findUnique({ where: { id: modelId }, select: { structureId: true } });
    if (!model) throw badInput(`input.layerOrderFromModelId ${JSON.stringify(modelId)} does not exist`, "input.layerOrderFromModelId");
    if (!model.structureId) throw badInput("input.layerOrderFromModelId names a model without a registered artifact", "input.layerOrderFromModelId");
    const tensors = await this.db.structureTensor.findMany({ where: { structureId: model.structureId }, orderBy: [{ layerIndex: "asc" }, { position: "asc" }], select: { name: true } });
    const order: string[] = [];
    const seen = new Set<string>();
    for (const t of tensors) {
      const m = moduleOf(t.name);
      if (!seen.has(m)) {
        seen.add(m);
        order.push(m);
      }
    }
    return order;
  }

  /**
   * The id of the Structure row for this parameter structure, creating it (with its tensors and
   * its overlap with every known structure, in one transaction) when it is new.
   */
  async ensureStructure(parsed: ParsedModel): Promise<string> {
    const key = structureKey(parsed);
    return (await this.storedStructureId(key)) ?? this.createStructure(parsed, key);
  }

  /** The id of the Structure row stored under this key (core/structure/structureHash), if any. */
  private async storedStructureId(key: string): Promise<string | undefined> {
    // Structures never change once stored, so key → id is kept for the life of the process.
    const cached = this.structureIds.get(key);
    if (cached) return cached;
    const existing = await this.db.structure.findUnique({ where: { hash: key }, select: { id: true } });
    if (existing) this.structureIds.set(key, existing.id);
    return existing?.id;
  }

  /** Stores a new structure under `key`: its row, its tensors and its overlaps, in one transaction. */
  private async createStructure(parsed: ParsedModel, key: string): Promise<string> {
    const summary = summarizeStructure(parsed);
    const id = randomUUID();
    const groups = summary.groups.map((g) => ({ prefix: g.prefix, tensorCount: g.tensorCount, parameterCount: g.parameterCount }));
    const structure: CatalogStructure = {
      tensors: parsed.tensors.map((t) => ({ name: t.name, shape: t.shape, dtype: t.dtype, mergeable: t.mergeable, group: t.group, elements: t.elements, positionKey: t.positionKey ?? null, layerIndex: t.layerIndex })),
      generatedNameCount: parsed.generatedNameCount,
      groups,
    };
    const overlaps: OverlapRow[] = [];
    const keyed = hasPositionKeys(structure);
    const index = overlapIndex(structure);
    for (const other of await this.catalog.all()) {
      const o = computeOverlap(structure, other.structure);
      // By position only where both have keys and share one: the pre-check costs a few lookups.
      const otherIndex = keyed && hasPositionKeys(other.structure) ? overlapIndex(other.structure) : null;
      const p = otherIndex && sharesPositions(index, otherIndex) ? positionalOverlap(index, otherIndex) : null;
      const byName = o.sharedTensorCount > 0 || o.mismatches.length > 0;
      if (!byName && !p?.sharedTensorCount) continue;
      // One row per unordered pair, a < b by id, so both directions are one indexed lookup.
      const newIsA = id < other.id;
      overlaps.push({
        byName,
        positionSharedTensorCount: p?.sharedTensorCount ?? 0,
        positionSharedParameterCount: BigInt(p?.sharedParameterCount ?? 0),
        positionFractionOfA: (newIsA ? p?.fractionOfA : p?.fractionOfB) ?? 0,
        positionFractionOfB: (newIsA ? p?.fractionOfB : p?.fractionOfA) ?? 0,
        autoByPosition: resolveMatching("AUTO", structure, other.structure) === "POSITION",
        structureAId: newIsA ? id : other.id,
        structureBId: newIsA ? other.id : id,
        sharedTensorCount: o.sharedTensorCount,
        sharedParameterCount: BigInt(o.sharedParameterCount),
        fractionOfA: newIsA ? o.fractionOfA : o.fractionOfB,
        fractionOfB: newIsA ? o.fractionOfB : o.fractionOfA,
        groups: o.groups.map((g) => ({ prefix: g.prefix, shared: g.shared, sharedParameters: g.sharedParameters, tensorsA: newIsA ? g.tensorsA : g.tensorsB, tensorsB: newIsA ? g.tensorsB : g.tensorsA })),
        // Not stored: two backbones with the same module names at other widths mismatch in
        // nearly every tensor, and storing those lists for every pair made this table ~2/3 of
        // the database and most of a new structure's registration time (bench/candidatesBench).
        // CandidateService recomputes a page's mismatches from the structure catalog instead.
        mismatches: [],
      });
    }
    try {
      await this.db.$transaction(async (tx) => {
        await tx.structure.create({
          data: {
            id,
            hash: key,
            format: parsed.format,
            tensorCount: summary.tensorCount,
            mergeableTensorCount: summary.mergeableTensorCount,
            parameterCount: BigInt(summary.parameterCount),
            parameterCountByDtype: summary.dtypes as unknown as object,
            layerCount: parsed.layerCount,
            layerOrderSource: parsed.layerOrderSource,
            generatedNameCount: parsed.generatedNameCount,
            groups: groups as unknown as object,
          },
        });
        // Multi-row INSERTs rather than createMany: for these ~300 + ~200 rows createMany cost
        // about 6x the CPU (≈0.12 ms a row, measured by bench/candidatesBench.ts on both
        // providers), which was most of a new structure's registration time. Json columns take
        // the JSON text (PostgreSQL casts it to jsonb; SQLite stores text, as Prisma does).
        const tensors = parsed.tensors.map((t, position) =>
          Prisma.sql`(${id}, ${position}, ${t.name}, ${JSON.stringify(t.shape)}, ${t.dtype}, ${BigInt(t.elements)}, ${t.layerIndex}, ${t.group}, ${t.mergeable}, ${t.positionKey ?? null})`,
        );
        for (let i = 0; i < tensors.length; i += INSERT_BATCH) {
          await tx.$executeRaw`INSERT INTO "StructureTensor" ("structureId", "position", "name", "shape", "dtype", "elements", "layerIndex", "group", "mergeable", "positionKey")
            VALUES ${Prisma.join(tensors.slice(i, i + INSERT_BATCH))}`;
        }
        const overlapRows = overlaps.map((o) =>
          Prisma.sql`(${o.structureAId}, ${o.structureBId}, ${o.sharedTensorCount}, ${o.sharedParameterCount}, ${o.fractionOfA}, ${o.fractionOfB}, ${JSON.stringify(o.groups)}, ${JSON.stringify(o.mismatches)},
            ${o.byName}, ${o.positionSharedTensorCount}, ${o.positionSharedParameterCount}, ${o.positionFractionOfA}, ${o.positionFractionOfB}, ${o.autoByPosition})`,
        );
        for (let i = 0; i < overlapRows.length; i += INSERT_BATCH) {
          await tx.$executeRaw`INSERT INTO "StructureOverlap" ("structureAId", "structureBId", "sharedTensorCount", "sharedParameterCount", "fractionOfA", "fractionOfB", "groups", "mismatches",
            "byName", "positionSharedTensorCount", "positionSharedParameterCount", "positionFractionOfA", "positionFractionOfB", "autoByPosition")
            VALUES ${Prisma.join(overlapRows.slice(i, i + INSERT_BATCH))}`;
        }
      });
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      // Another registration created the same structure first.
      const winner = await this.db.structure.findUnique({ where: { hash: key }, select: { id: true } });
      if (!winner) throw error;
      this.structureIds.set(key, winner.id);
      return winner.id;
    }
    this.catalog.remember(id, structure);
    this.structureIds.set(key, id);
    return id;
  }
}

/** Rows per INSERT: 15 parameters a row stays far below SQLite's 32,766 and PostgreSQL's 65,535. */
const INSERT_BATCH = 500;

interface OverlapRow {
  structureAId: string;
  structureBId: string;
  sharedTensorCount: number;
  sharedParameterCount: bigint;
  fractionOfA: number;
  fractionOfB: number;
  groups: unknown[];
  mismatches: unknown[];
  byName: boolean;
  positionSharedTensorCount: number;
  positionSharedParameterCount: bigint;
  positionFractionOfA: number;
  positionFractionOfB: number;
  autoByPosition: boolean;
}
