import { createHash } from "node:crypto";
import type { Db } from "../persistence/database";
import type { ArtifactStore } from "../storage/artifactStore";
import type { ThreadPool } from "../threads/threadPool";
import type { GroupSimilarity, SimilaritySide } from "../threads/pairSimilarity";
import type { ParsedModel } from "../core/structure/types";
import { ancestorNames, comparedTensors, type ComparedTensors } from "../core/similarity/comparedTensors";
import { resolveMatching, type MatchingChoice } from "../core/structure/tensorMatching";
import type { Logger } from "../logging";
import type { LineageService } from "./lineageService";
import type { StructureCatalog } from "./structureCatalog";

/** A model as a similarity needs it: its structure (what is compared) and its artifact (the values). */
export interface PairModel {
  id: string;
  structureId: string | null;
  artifactId: string | null;
  /** How the candidate's tensors pair with the anchor's (resolved per pair as candidates are); AUTO when absent. */
  matching?: MatchingChoice | null;
}

export interface CandidateSimilarity {
  /** Cosine of the two models' compared tensors concatenated; null when a side is all zeros. */
  cosine: number | null;
  /** The nearest common ancestor with weights the deltas were taken from. */
  ancestorId: string | null;
  ancestorCosine: number | null;
  groups: GroupSimilarity[];
  tensorCount: number;
  elements: number;
  computedAt: Date;
}

interface Pending {
  key: string;
  artifactAId: string;
  artifactBId: string;
  ancestorArtifactId: string | null;
  compared: ComparedTensors;
  /** The ancestor's name for each compared tensor (a's name when matched by name). */
  ancestorNames: string[] | null;
}

/** Changes whenever what a stored value means changes, so old rows are simply not found again. */
const KEY_VERSION = "layermerge-similarity-v1";

/** Queued computations per process beyond which requests leave pairs pending (asked again later). */
const MAX_QUEUED = 10_000;

/** Remembered compared-tensor lists (structures are immutable, so by structure pair). */
const MAX_REMEMBERED_PAIRS = 10_000;

/**
 * Similarity signals for merge candidates: the cosine similarity of two models' shared tensors,
 * and of their differences from their nearest common ancestor with weights. Values are computed
 * in the background (a pool thread job reading the artifacts in chunks) and stored per key; the
 * first request for a pair finds nothing, queues it and answers null.
 *
 * The key hashes the three artifacts' contents (sha256), not model ids, and the compared tensor
 * pairs: two models registered from the same file share a row; a changed lineage or a deleted
 * ancestor resolves to another ancestor (or none) and so to another key; a row goes with any of
 * its artifacts. In-flight work is remembered per process only: a process that stops loses its
 * queue, and the next request queues the pair again. Computations run one at a time, so a burst
 * of candidate pages never holds more than one pool thread from registrations and merges.
 */
export class SimilarityService {
  private readonly inFlight = new Set<string>();
  private readonly queue: Array<() => Promise<void>> = [];
  private running: Promise<void> | null = null;
  private stopped = false;
  private readonly abort = new AbortController();
  private readonly comparedByPair = new Map<string, ComparedTensors>();

  constructor(
    private readonly db: Db,
    private readonly store: ArtifactStore,
    private readonly pool: ThreadPool,
    private readonly catalog: StructureCatalog,
    private readonly lineage: LineageService,
    private readonly logger: Logger,
  ) {}

  /**
   * Each candidate's similarity to the anchor (by candidate id), or null while it is computed.
   * Missing ones are queued, at most `queueLimit` of them, in the order given.
   */
  async lookup(anchor: PairModel, candidates: PairModel[], queueLimit = Number.POSITIVE_INFINITY): Promise<Map<string, CandidateSimilarity | null>> {
    const out = new Map<string, CandidateSimilarity | null>(candidates.map((c) => [c.id, null]));
    if (!anchor.structureId || !anchor.artifactId || candidates.length === 0) return out;
    const withWeights = candidates.filter((c) => c.structureId && c.artifactId);
    const distances = await this.lineage.ancestorDistances([anchor.id, ...withWeights.map((c) => c.id)]);
    const anchorUp = distances.get(anchor.id)!;
    const commonIds = new Set<string>();
    for (const c of withWeights) for (const id of distances.get(c.id)!.keys()) if (anchorUp.has(id)) commonIds.add(id);
    const [ancestors, artifacts] = await Promise.all([
      commonIds.size
        ? this.db.model.findMany({ where: { id: { in: [...commonIds] }, deletedAt: null, artifactId: { not: null }, structureId: { not: null } }, select: { id: true, structureId: true, artifactId: true } })
        : Promise.resolve([]),
      this.db.artifact.findMany({ where: { id: { in: [...new Set([anchor.artifactId, ...withWeights.map((c) => c.artifactId!)])] } }, select: { id: true, sha256: true } }),
    ]);
    const liveAncestor = new Map(ancestors.map((m) => [m.id, m]));
    const ancestorArtifacts = ancestors.length
      ? await this.db.artifact.findMany({ where: { id: { in: [...new Set(ancestors.map((m) => m.artifactId!))] } }, select: { id: true, sha256: true } })
      : [];
    const sha = new Map([...artifacts, ...ancestorArtifacts].map((a) => [a.id, a.sha256]));
    const anchorStructure = await this.catalog.get(anchor.structureId);

    const wanted: Array<{ candidateId: string; pending: Pending; ancestorId: string | null }> = [];
    for (const c of withWeights) {
      const candidateStructure = await this.catalog.get(c.structureId!);
      const compared = this.compared(anchor.structureId, c.structureId!, anchorStructure, candidateStructure, resolveMatching(c.matching, anchorStructure, candidateStructure));
      if (compared.tensors.length === 0) continue;
      const up = distances.get(c.id)!;
      // Nearest (docs/CONVENTIONS.md, Candidate similarity): fewest hops in total, then the farther side's hops, then id.
      const common = [...up.keys()]
        .filter((id) => anchorUp.has(id) && liveAncestor.has(id))
        .map((id) => ({ id, total: anchorUp.get(id)! + up.get(id)!, far: Math.max(anchorUp.get(id)!, up.get(id)!) }))
        .sort((x, y) => x.total - y.total || x.far - y.far || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
      let ancestor: { id: string; artifactId: string; names: string[] } | null = null;
      for (const candidateAncestor of common) {
        const m = liveAncestor.get(candidateAncestor.id)!;
        const names = ancestorNames(anchorStructure, await this.catalog.get(m.structureId!), compared);
        if (names) {
          ancestor = { id: m.id, artifactId: m.artifactId!, names };
          break;
        }
      }
      const parts: unknown[] = [KEY_VERSION, sha.get(anchor.artifactId), sha.get(c.artifactId!), ancestor ? sha.get(ancestor.artifactId) : null, compared.hash];
      // An ancestor paired by position may hold the tensors under other names; by name the key stays as it always was.
      if (ancestor && ancestor.names.some((name, i) => name !== compared.tensors[i]!.a)) parts.push(ancestor.names);
      const key = createHash("sha256").update(JSON.stringify(parts)).digest("hex");
      wanted.push({
        candidateId: c.id,
        ancestorId: ancestor?.id ?? null,
        pending: { key, artifactAId: anchor.artifactId, artifactBId: c.artifactId!, ancestorArtifactId: ancestor?.artifactId ?? null, compared, ancestorNames: ancestor?.names ?? null },
      });
    }

    const keys = [...new Set(wanted.map((w) => w.pending.key))];
    const stored = new Map<string, Awaited<ReturnType<Db["pairSimilarity"]["findFirstOrThrow"]>>>();
    for (let i = 0; i < keys.length; i += 500) {
      for (const row of await this.db.pairSimilarity.findMany({ where: { key: { in: keys.slice(i, i + 500) } } })) stored.set(row.key, row);
    }
    let queued = 0;
    for (const w of wanted) {
      const row = stored.get(w.pending.key);
      if (row) {
        out.set(w.candidateId, {
          cosine: row.cosine,
          ancestorId: row.ancestorArtifactId ? w.ancestorId : null,
          ancestorCosine: row.ancestorCosine,
          groups: row.groups as unknown as GroupSimilarity[],
          tensorCount: row.tensorCount,
          elements: Number(row.elements),
          computedAt: row.createdAt,
        });
      } else if (queued < queueLimit) {
        queued++;
        this.enqueue(w.pending);
      }
    }
    return out;
  }

  /** At shutdown: drops the queue and cancels the computation in progress (its pair stays pending). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.queue.length = 0;
    this.abort.abort();
    await this.running;
  }

  private compared(aId: string, bId: string, a: Parameters<typeof comparedTensors>[0], b: Parameters<typeof comparedTensors>[1], matching: ComparedTensors["matching"]): ComparedTensors {
    const pairKey = `${aId}|${bId}|${matching}`;
    let compared = this.comparedByPair.get(pairKey);
    if (!compared) {
      if (this.comparedByPair.size >= MAX_REMEMBERED_PAIRS) this.comparedByPair.clear();
      compared = comparedTensors(a, b, matching);
      this.comparedByPair.set(pairKey, compared);
    }
    return compared;
  }

  private enqueue(pending: Pending): void {
    if (this.stopped || this.inFlight.has(pending.key) || this.queue.length >= MAX_QUEUED) return;
    this.inFlight.add(pending.key);
    this.queue.push(() => this.compute(pending).finally(() => this.inFlight.delete(pending.key)));
    this.running ??= this.drain().finally(() => (this.running = null));
  }

  private async drain(): Promise<void> {
    while (this.queue.length) await this.queue.shift()!();
  }

  private async compute(p: Pending): Promise<void> {
    const locals: Array<{ release(): Promise<void> }> = [];
    try {
      if (await this.db.pairSimilarity.findUnique({ where: { key: p.key }, select: { key: true } })) return;
      const side = async (artifactId: string): Promise<SimilaritySide> => {
        const artifact = await this.db.artifact.findUniqueOrThrow({ where: { id: artifactId }, select: { sha256: true, layout: true } });
        const local = await this.store.localPath(artifact.sha256);
        locals.push(local);
        return { file: local.path, layout: (artifact.layout as ParsedModel | null) ?? null };
      };
      const a = await side(p.artifactAId);
      const b = await side(p.artifactBId);
      const ancestor = p.ancestorArtifactId ? await side(p.ancestorArtifactId) : null;
      const result = await this.pool.run("pairSimilarity", { a, b, ancestor, tensors: p.compared.tensors.map((t, i) => ({ ...t, c: p.ancestorNames?.[i] ?? t.a })) }, { signal: this.abort.signal });
      const data = {
        artifactAId: p.artifactAId,
        artifactBId: p.artifactBId,
        ancestorArtifactId: p.ancestorArtifactId,
        cosine: result.cosine,
        ancestorCosine: result.ancestorCosine,
        groups: result.groups as unknown as object,
        tensorCount: result.tensorCount,
        elements: BigInt(result.elements),
      };
      await this.db.pairSimilarity.upsert({ where: { key: p.key }, create: { key: p.key, ...data }, update: {} });
    } catch (error) {
      if (this.stopped) return;
      // Nothing is stored: the pair stays pending and the next request that shows it queues it again.
      this.logger.warn({ err: error, key: p.key }, "a merge candidate's similarity could not be computed");
    } finally {
      for (const l of locals) await l.release().catch(() => undefined);
    }
  }
}
