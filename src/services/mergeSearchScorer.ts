import * as fsp from "node:fs/promises";
import * as path from "node:path";
import type { Db } from "../persistence/database";
import { badInput } from "../core/errors";
import { confidenceFromResampled, measureOf, objectiveValue, statsLength, sumStats, type ImageStats, type PickConfidence } from "../core/search";
import type { ArtifactStore } from "../storage/artifactStore";
import type { ThreadPool } from "../threads/threadPool";
import type { MergeModelRef, RunMergePayload } from "../threads/runMerge";
import { unpackStats } from "../threads/packedStats";
import type { ParsedModel } from "../core/structure/types";
import type { SearchImageSet } from "../runtime/search/searchImages";
import type { DatasetClass } from "./datasetService";
import type { StructureCatalog } from "./structureCatalog";
import type { CandidateRecipe, MergeSearchSettings } from "./mergeSearchPlanner";
import { isForeignKeyViolation, isUniqueViolation } from "./prismaErrors";
import type { MergeSearchWork, WorkItem } from "./mergeSearchWork";

/**
 * Anchors up to this size are merged in memory: the candidate's bytes go to onnxruntime without a
 * scratch file written, read back and removed (on the demo pool's 0.5 MB models that round trip
 * cost 2–6 ms of a 90–130 ms candidate, bench:search-candidate). Larger ones go through scratch space, so a search of big models
 * holds one copy of a candidate (onnxruntime's) rather than two.
 */
const IN_MEMORY_MERGE_BYTES = 64 << 20;
/** Candidates per thread below which resampling the rest at a search's end is not split between threads. */
const MIN_RESAMPLED_PER_PART = 16;

type PoolModels = Map<string, { ref: MergeModelRef; contract: never; inMemory: boolean }>;

/** What every candidate of a search reads, prepared once per taking-part process. */
export interface SearchInputs {
  objectiveSet: SearchImageSet;
  auditSet: SearchImageSet | null;
  pool: PoolModels;
  pseudoLabels: Uint16Array[] | undefined;
  /** Lets go of the pool models' local copies. */
  release(): Promise<void>;
}

/**
 * Scores a search's candidates in one process, on its threads: the owner of the MERGE_SEARCH job
 * and every worker that joins it run the same code. Inputs are prepared once (the images
 * decoded, the pool's files made local); candidates are claimed from the search's work list one
 * at a time per thread, so processes share the work at candidate granularity.
 */
export class MergeSearchScorer {
  constructor(
    private readonly db: Db,
    private readonly store: ArtifactStore,
    private readonly pool: ThreadPool,
    private readonly catalog: StructureCatalog,
    readonly work: MergeSearchWork,
    /** How many candidates run at once in this process (its threads). */
    private readonly concurrency: number,
    private readonly datasetFolder: (datasetId: string) => Promise<string>,
    /** How often held leases are renewed: well within the lease. */
    private readonly renewMs: number,
  ) {}

  /** Decodes the images (objective and audit), makes the pool local, and computes ENSEMBLE_AGREEMENT's pseudo-labels. */
  async prepare(settings: MergeSearchSettings, signal: AbortSignal, stage: (message: string) => void = () => undefined): Promise<SearchInputs> {
    const releases: Array<() => Promise<void>> = [];
    const release = async () => {
      for (const r of releases) await r().catch(() => undefined);
    };
    try {
      stage("decoding images");
      const spec = async (datasetId: string) => {
        const d = await this.db.dataset.findUniqueOrThrow({ where: { id: datasetId } });
        return { format: d.format as never, location: await this.datasetFolder(d.id), classes: d.classes as unknown as DatasetClass[], ignoreIndex: d.ignoreIndex, split: d.split };
      };
      const kind = settings.objective.kind;
      const objectiveSet = await this.pool.run("loadSearchImages", { spec: await spec(settings.objective.datasetId), limit: settings.objective.limit, labels: kind === "SCORE" }, { signal });
      const auditSet = settings.audit ? await this.pool.run("loadSearchImages", { spec: await spec(settings.audit.datasetId), limit: settings.audit.limit, labels: true }, { signal }) : null;
      const pool = await this.poolModels(settings, releases);
      let pseudoLabels: Uint16Array[] | undefined;
      if (kind === "ENSEMBLE_AGREEMENT") {
        stage("ensemble pseudo-labels");
        pseudoLabels = await this.pool.run("ensembleLabels", { models: settings.modelIds.map((id) => pool.get(id)!).map((m) => ({ modelPath: m.ref.file!, contract: m.contract, activation: activationOf(m.contract) })), set: objectiveSet, numClasses: settings.numClasses }, { signal });
      }
      return { objectiveSet, auditSet, pool, pseudoLabels, release };
    } catch (error) {
      await release();
      throw error;
    }
  }

  /**
   * Claims and scores candidates on this process's threads until none is free to claim (or
   * `stop` says so); every candidate started has settled when this returns, so a cancelled
   * search is removed only once none of this process's rows can still be on its way. Returns how
   * many this call scored. A candidate that fails is given back to the list and the error thrown.
   * `resampled` (the search's owner): each candidate whose row this call writes adds its objective
   * on every bootstrap resample, computed on its thread (pickConfidence then only compares).
   */
  async scoreClaimed(searchId: string, settings: MergeSearchSettings, inputs: SearchInputs, dir: string, signal: AbortSignal, stop: () => boolean, scored: () => void, resampled?: Map<string, Float64Array>): Promise<number> {
    const held = new Set<string>();
    const beat = setInterval(() => void this.work.renew(searchId, [...held]).catch(() => undefined), this.renewMs);
    beat.unref();
    let failed = false;
    let count = 0;
    /** The next free item, claimed, and whether a row for it exists already (a process that died before taking it off the list). */
    const claimNext = async (): Promise<{ item: WorkItem; exists: boolean } | null> => {
      const item = await this.work.claim(searchId);
      if (!item) return null;
      held.add(item.key);
      try {
        return { item, exists: await this.work.isScored(searchId, item.key) };
      } catch (error) {
        held.delete(item.key);
        await this.work.release(searchId, item.key).catch(() => undefined);
        throw error;
      }
    };
    const lane = async () => {
      // A candidate's row is written (and its item taken off the list) while the thread already
      // scores the next one, and the next one is claimed while this one is scored: those round
      // trips would otherwise leave the thread idle between candidates, a tenth of a small
      // model's candidate. One row at a time, in claim order.
      let written: Promise<void> = Promise.resolve();
      let next: Promise<{ item: WorkItem; exists: boolean } | null> = claimNext();
      next.catch(() => undefined); // awaited below
      try {
        while (!failed && !signal.aborted && !stop()) {
          const claimed = await next;
          next = Promise.resolve(null);
          if (!claimed) return;
          const { item, exists } = claimed;
          // One item ahead: claimed while this one is scored (never past a stop or a failure).
          if (!stop()) {
            next = claimNext();
            next.catch(() => undefined);
          }
          let scores: Awaited<ReturnType<typeof this.scoreOne>> | null;
          try {
            scores = exists ? null : await this.scoreOne(item, settings, inputs, dir, signal, !!resampled);
          } catch (error) {
            held.delete(item.key);
            if (!signal.aborted) await this.work.release(searchId, item.key).catch(() => undefined);
            throw error;
          }
          await written;
          written = (async () => {
            try {
              if (scores) {
                const written = await this.record(searchId, item, settings, scores);
                if (written && resampled && scores.resampled) resampled.set(item.key, scores.resampled);
                count++;
              }
              await this.work.done(searchId, item.key);
              scored();
            } catch (error) {
              if (!signal.aborted) await this.work.release(searchId, item.key).catch(() => undefined);
              throw error;
            } finally {
              held.delete(item.key);
            }
          })();
          written.catch(() => undefined); // awaited before the next row and when the lane ends
        }
      } finally {
        // An item claimed ahead and not started goes back to the list at once (free for anyone).
        const ahead = await next.catch(() => null);
        if (ahead) {
          held.delete(ahead.item.key);
          if (!signal.aborted) await this.work.release(searchId, ahead.item.key).catch(() => undefined);
        }
        // Every row this lane started is settled before it returns (a cancelled search is
        // removed only then); its failure is the lane's unless the lane already failed.
        const pending = written;
        written = Promise.resolve();
        await pending;
      }
    };
    try {
      const outcomes = await Promise.allSettled(
        Array.from({ length: Math.max(1, this.concurrency) }, () =>
          lane().catch((error) => {
            failed = true;
            throw error;
          }),
        ),
      );
      const rejected = outcomes.find((o): o is PromiseRejectedResult => o.status === "rejected");
      if (rejected) throw rejected.reason;
      return count;
    } finally {
      clearInterval(beat);
    }
  }

  /**
   * pickConfidence of `pick` among `rows` (the search's rows in plan order). The bootstrap
   * recomputes every candidate's objective 1,000 times: this process's candidates did so on their
   * threads as they were scored (`resampled`); those scored by other processes, or by an earlier
   * attempt, are resampled here, dealt out between the pool's threads. Null without images.
   */
  async pickConfidence(rows: ReadonlyArray<{ key: string; imageStats: Uint8Array }>, pick: number, resampled: ReadonlyMap<string, Float64Array>, settings: MergeSearchSettings): Promise<PickConfidence | null> {
    if (rows[pick].imageStats.byteLength === 0) return null;
    const kind = measureOf(settings.objective.kind, settings.metric);
    const length = statsLength(kind, settings.numClasses);
    const missing = rows.map((r, i) => (resampled.has(r.key) ? -1 : i)).filter((i) => i >= 0);
    const parts = Math.max(1, Math.min(this.concurrency, Math.ceil(missing.length / MIN_RESAMPLED_PER_PART)));
    const share = (part: number) => missing.filter((_, j) => j % parts === part);
    const computed = missing.length === 0 ? [] : await Promise.all(Array.from({ length: parts }, (_, part) => this.pool.run("searchResampled", { kind, classes: settings.numClasses, seed: settings.objective.seed, length, blocks: share(part).map((i) => new Float64Array(new Uint8Array(rows[i].imageStats).buffer)) })));
    const vectors = rows.map((r) => resampled.get(r.key) ?? null);
    computed.forEach((vs, part) => share(part).forEach((i, j) => (vectors[i] = vs[j])));
    return confidenceFromResampled(pick, vectors as Float64Array[]);
  }

  private scoreOne(item: WorkItem, settings: MergeSearchSettings, inputs: SearchInputs, dir: string, signal: AbortSignal, resample: boolean): Promise<{ objective: ImageStats[]; audit: ImageStats[] | null; resampled: Float64Array | null; seconds: number }> {
    return withSignal(signal, async (s) => {
      const payload = { ...this.candidatePayload(item, settings, inputs, dir), resample: resample ? { kind: measureOf(settings.objective.kind, settings.metric), classes: settings.numClasses, seed: settings.objective.seed } : null };
      const packed = await this.pool.run("scoreSearchCandidate", payload, { signal: s });
      return { objective: unpackStats(packed.objective), audit: packed.audit ? unpackStats(packed.audit) : null, resampled: packed.resampled, seconds: packed.seconds };
    });
  }

  /** Writes the candidate's row; false when it was there already (the first row stands) or the search is gone. */
  private async record(searchId: string, c: WorkItem, settings: MergeSearchSettings, scores: { objective: ImageStats[]; audit: ImageStats[] | null; seconds: number }): Promise<boolean> {
    const measure = measureOf(settings.objective.kind, settings.metric);
    const auditMeasure = measureOf("SCORE", settings.metric);
    const length = statsLength(measure, settings.numClasses);
    const objective = objectiveValue(measure, sumStats(scores.objective, length), settings.numClasses);
    const audit = scores.audit ? objectiveValue(auditMeasure, sumStats(scores.audit, statsLength(auditMeasure, settings.numClasses)), settings.numClasses) : null;
    const bytes = new Float64Array(scores.objective.length * length);
    scores.objective.forEach((s, i) => bytes.set(s, i * length));
    try {
      await this.work.writeScore(searchId, { key: c.key, position: c.position, recipe: c.recipe, objective, audit, seconds: scores.seconds, imageStats: new Uint8Array(bytes.buffer) });
      return true;
    } catch (error) {
      // Computed twice (its first process died before taking it off the list): the first row
      // stands. The search is gone (cancelled meanwhile): nothing to write into.
      if (!isUniqueViolation(error) && !isForeignKeyViolation(error)) throw error;
      return false;
    }
  }

  private async poolModels(settings: MergeSearchSettings, releases: Array<() => Promise<void>>): Promise<PoolModels> {
    const ids = [...settings.modelIds, ...(settings.baseModelId ? [settings.baseModelId] : [])];
    const rows = await this.db.model.findMany({ where: { id: { in: ids } }, include: { artifact: true } });
    const out: PoolModels = new Map();
    for (const m of rows) {
      if (!m.artifact || !m.structureId) throw badInput(`${m.name}@${m.version} lost its weights since the search was planned`);
      const local = await this.store.localPath(m.artifact.sha256);
      releases.push(() => local.release());
      const structure = await this.catalog.planModel(m.structureId);
      const layers = { count: structure.layerCount, byName: Object.fromEntries(structure.tensors.map((t) => [t.name, t.layerIndex])) };
      const layout = (m.artifact.layout as ParsedModel | null) ?? null;
      // External data is found beside the model file: such a merge must be a file.
      const external = !layout || layout.tensors.some((t) => t.location.kind === "raw" && t.location.file !== undefined);
      const inMemory = !external && (await fsp.stat(local.path)).size <= IN_MEMORY_MERGE_BYTES;
      out.set(m.id, { ref: { name: `${m.name}@${m.version}`, file: local.path, layout, layers }, contract: m.inference as never, inMemory });
    }
    return out;
  }

  private candidatePayload(c: WorkItem, settings: MergeSearchSettings, inputs: SearchInputs, dir: string) {
    const { pool } = inputs;
    const r: CandidateRecipe = c.recipe;
    const anchor = pool.get(r.anchorId)!;
    const outFile = anchor.inMemory ? null : path.join(dir, `${c.key}.onnx`);
    const merge: RunMergePayload | null = r.modelIds.length === 0
      ? null
      : {
          anchor: anchor.ref,
          contributors: r.modelIds.map((id) => pool.get(id)!.ref),
          base: r.baseModelId ? pool.get(r.baseModelId)!.ref : null,
          recipe: { method: r.method!, schedule: r.schedule!, weights: r.weights, params: r.params ?? {} },
          outFile,
          // A file is read back by the candidate's session and removed right after: no fsync.
          scratch: true,
          metadata: {},
        };
    return {
      merge,
      score: {
        // A merge made in memory is named by its key in messages.
        modelPath: merge ? outFile ?? `merge ${c.key}` : anchor.ref.file!,
        contract: anchor.contract,
        activation: activationOf(anchor.contract),
        numClasses: settings.numClasses,
        metric: settings.metric ?? "MIOU",
        objective: { kind: settings.objective.kind, set: inputs.objectiveSet, draws: settings.draws ?? undefined, pseudoLabels: inputs.pseudoLabels },
        audit: inputs.auditSet,
      },
    };
  }
}

/** `fn` under a signal of its own that follows `outer`: the pool's listener goes with it, not onto the job's signal once per candidate. */
async function withSignal<T>(outer: AbortSignal, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const inner = new AbortController();
  const forward = () => inner.abort(outer.reason);
  if (outer.aborted) forward();
  outer.addEventListener("abort", forward, { once: true });
  try {
    return await fn(inner.signal);
  } finally {
    outer.removeEventListener("abort", forward);
  }
}

/** The activation of the semantic score output the search reads (docs/CONVENTIONS.md, Merge search). */
function activationOf(contract: { outputs?: Array<{ kind: string; activation?: string }> }): "LOGITS" | "PROBS" {
  const out = (contract.outputs ?? []).find((o) => o.kind === "SEMANTIC_LOGITS" || o.kind === "PANOPTIC_SEMANTIC");
  return out?.activation === "PROBS" ? "PROBS" : "LOGITS";
}
