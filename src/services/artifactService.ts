import type { Db, Provider } from "../persistence/database";
import { sql, type DirectQueries, type DirectSql } from "../persistence/directSql";
import { cuid } from "../persistence/cuid";
import { badInput, conflict, DomainError, notFound } from "../core/errors";
import type { ArtifactStore } from "../storage/artifactStore";
import { SHA256_PATTERN } from "../storage/artifactStore";
import type { Logger } from "../logging";
import { decodeCursor, encodeCursor, pageSize, type PageInfo } from "./pagination";

/**
 * The `format` of the Artifact row a deletion inserts for a moment, inside its own transaction,
 * to claim a sha256 (see ArtifactService). Never committed: the same transaction deletes it.
 */
const CLAIM_FORMAT = "(deleting)";

/** Blobs read from the store per page while sweeping or listing. */
const LIST_BATCH = 500;

/**
 * Blobs this process is using before an Artifact row references them (a registration between
 * its upload and its row, a merge between storing its output and recording it), and blobs this
 * process is deleting. A pin waits for a deletion under way to finish (the blob is then gone and
 * the registration answers NOT_FOUND); a deletion never starts on a pinned blob.
 */
export class BlobPins {
  private readonly pinned = new Map<string, number>();
  private readonly deleting = new Map<string, Promise<void>>();

  /** Holds `sha256` until the returned function is called (calling it again does nothing). */
  async pin(sha256: string): Promise<() => void> {
    for (let busy = this.deleting.get(sha256); busy; busy = this.deleting.get(sha256)) await busy;
    this.pinned.set(sha256, (this.pinned.get(sha256) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.pinned.get(sha256) ?? 1) - 1;
      if (left > 0) this.pinned.set(sha256, left);
      else this.pinned.delete(sha256);
    };
  }

  isPinned(sha256: string): boolean {
    return this.pinned.has(sha256);
  }

  /** Marks `sha256` as being deleted, or null when it is pinned or already being deleted. */
  claim(sha256: string): (() => void) | null {
    if (this.pinned.has(sha256) || this.deleting.has(sha256)) return null;
    let done!: () => void;
    this.deleting.set(sha256, new Promise<void>((resolve) => (done = resolve)));
    return () => {
      this.deleting.delete(sha256);
      done();
    };
  }
}

type ModelRowOf = Awaited<ReturnType<Db["model"]["findFirstOrThrow"]>>;
type ArtifactRowOf = Awaited<ReturnType<Db["artifact"]["findFirstOrThrow"]>>;

export interface StoredArtifactNode {
  sha256: string;
  sizeBytes: number;
  storedAt: Date;
  ageSeconds: number;
  referenced: boolean;
  artifact: (Omit<ArtifactRowOf, "sizeBytes"> & { sizeBytes: number }) | null;
  /** Models whose Artifact row is this blob, soft-deleted ones included. */
  models: ModelRowOf[];
}

export interface StoredArtifactConnection {
  edges: Array<{ cursor: string; node: StoredArtifactNode }>;
  pageInfo: PageInfo;
}

export interface SweepResult {
  /** Unreferenced blobs older than the TTL that were deleted. */
  deleted: string[];
  /** Old unreferenced blobs left alone because this process is using them (pinned). */
  pinned: string[];
  temporary: { objects: number; uploads: number | null };
}

export type DeleteOutcome = "deleted" | "referenced" | "pinned" | "missing";

/**
 * Uploaded blobs that never became a model. An upload is a blob in the store and nothing else
 * until a registration writes its Artifact row, so a WRITER could fill the disk with uploads
 * nobody registers. The sweep (`startSweeping`, in every API process) deletes blobs that no
 * Artifact row references — rows of soft-deleted models are kept, so they still count — and
 * whose age (file mtime, object LastModified; an upload of bytes already stored renews it in
 * the file store) exceeds LAYERMERGE_UPLOAD_TTL, plus temporary files and incomplete multipart
 * uploads of dead attempts older than the TTL.
 *
 * Why a deletion cannot leave an Artifact row without its blob, across processes: the only
 * thing every process sharing the store also shares is the database, and the Artifact table's
 * unique sha256 is already the lock a registration takes. A deletion inserts a placeholder
 * Artifact row for the sha256 in a transaction, deletes the blob, deletes the placeholder and
 * commits — nothing of it is ever visible, but while it runs the unique key is held:
 * - a registration (or merge) whose row was inserted first makes the claim fail (on
 *   PostgreSQL the claim waits for that transaction; a committed row means "referenced");
 * - a registration inserting its row while the claim is held waits for it, then finds its row
 *   new — and, being new, checks inside its own transaction that the blob is still stored
 *   (`assertStoredInTransaction`), answering NOT_FOUND when the deletion got there first.
 * No pin table and no schema change; a pin row would need its own expiry for crashed holders,
 * and a blob's age alone cannot tell a registration that started just before the sweep.
 * In-process pins (BlobPins) come on top: they keep the sweep away from blobs this process is
 * registering, so the common case costs no NOT_FOUND and no retry. A registration in another
 * API process of a blob already older than the TTL may lose that race and answer NOT_FOUND;
 * `layermerge register` then uploads again and retries.
 *
 * On SQLite (one process: the embedded shape) the pins alone already keep registrations and
 * deletions apart. The placeholder transaction there holds the only connection's transaction
 * lock while the blob is deleted; it always commits (never rolls back after the deletion), so
 * statements that Prisma runs on that connection meanwhile are kept.
 */
export class ArtifactService {
  readonly pins = new BlobPins();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<SweepResult> | null = null;
  private waiters: Array<(result: SweepResult) => void> = [];

  constructor(
    private readonly db: Db,
    private readonly direct: DirectSql,
    private readonly store: ArtifactStore,
    private readonly ttlMs: number,
    private readonly provider: Provider,
    private readonly logger?: Logger,
  ) {}

  pin(sha256: string): Promise<() => void> {
    return this.pins.pin(sha256);
  }

  /**
   * For a transaction that has just inserted the Artifact row for `sha256` (so a deletion can no
   * longer start, see the class comment): the blob must still be there.
   *
   * Only on PostgreSQL, where other processes may delete. SQLite is the embedded shape: one API
   * process, whose deletions respect the pin the caller holds; and there a transaction is the
   * one connection's, so awaiting I/O inside it would let other requests' statements run in it
   * — and be rolled back with it when the registration then fails (a name already taken).
   */
  async assertStoredInTransaction(sha256: string, onMissing: () => Error = () => missingBlob(sha256, "input.artifactSha256")): Promise<void> {
    if (this.provider !== "postgres") return;
    if (!(await this.store.stat(sha256))) throw onMissing();
  }

  /**
   * Deletes the blob when no Artifact row references it and this process is not using it;
   * says what happened. Safe against registrations in this and other processes (class comment).
   */
  async deleteIfUnreferenced(sha256: string): Promise<DeleteOutcome> {
    const release = this.pins.claim(sha256);
    if (!release) return "pinned";
    try {
      const outcome = await this.direct.transaction(async (tx) => this.deleteClaimed(tx, sha256));
      if (outcome.failure) throw outcome.failure;
      return outcome.result;
    } finally {
      release();
    }
  }

  private async deleteClaimed(tx: DirectQueries, sha256: string): Promise<{ result: DeleteOutcome; failure?: unknown }> {
    const id = cuid();
    const claimed = await tx.execute(sql`INSERT INTO "Artifact" ("id", "sha256", "sizeBytes", "format", "storageKey", "createdAt")
      VALUES (${id}, ${sha256}, ${0n}, ${CLAIM_FORMAT}, ${sha256}, ${new Date()})
      ON CONFLICT ("sha256") DO NOTHING`);
    if (claimed === 0) return { result: "referenced" };
    let result: DeleteOutcome = "missing";
    let failure: unknown;
    try {
      if (await this.store.stat(sha256)) {
        await this.store.delete(sha256);
        result = "deleted";
      }
    } catch (error) {
      failure = error;
    }
    // Committed either way (see the class comment on SQLite); the error is thrown after.
    await tx.execute(sql`DELETE FROM "Artifact" WHERE "id" = ${id}`);
    return { result, failure };
  }

  /** One pass: unreferenced blobs older than the TTL, then dead temporary uploads. */
  sweep(): Promise<SweepResult> {
    if (this.running) return this.running;
    const waiting = this.waiters.splice(0);
    this.running = this.sweepOnce()
      .then((result) => {
        for (const resolve of waiting) resolve(result);
        return result;
      })
      .finally(() => {
        this.running = null;
      });
    return this.running;
  }

  /** Resolves with the result of the next sweep that starts after this call. */
  nextSweep(): Promise<SweepResult> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private async sweepOnce(): Promise<SweepResult> {
    const cutoff = Date.now() - this.ttlMs;
    const result: SweepResult = { deleted: [], pinned: [], temporary: { objects: 0, uploads: null } };
    let after: string | null = null;
    for (;;) {
      const page = await this.store.list({ after, limit: LIST_BATCH });
      if (page.length === 0) break;
      after = page[page.length - 1]!.sha256;
      const old = page.filter((b) => b.storedAt.getTime() < cutoff);
      if (old.length > 0) {
        const rows = await this.db.artifact.findMany({ where: { sha256: { in: old.map((b) => b.sha256) } }, select: { sha256: true } });
        const referenced = new Set(rows.map((r) => r.sha256));
        for (const blob of old) {
          if (referenced.has(blob.sha256)) continue;
          const outcome = await this.deleteIfUnreferenced(blob.sha256);
          if (outcome === "deleted") result.deleted.push(blob.sha256);
          else if (outcome === "pinned") result.pinned.push(blob.sha256);
        }
      }
      if (page.length < LIST_BATCH) break;
    }
    result.temporary = await this.store.sweepTemporary(this.ttlMs);
    if (result.deleted.length || result.temporary.objects || result.temporary.uploads) {
      this.logger?.info({ deleted: result.deleted.length, temporaryObjects: result.temporary.objects, incompleteUploads: result.temporary.uploads }, "upload sweep removed unregistered uploads older than LAYERMERGE_UPLOAD_TTL");
    }
    return result;
  }

  /**
   * Sweeps every half TTL (at most every hour, at least every second), so an unregistered
   * upload is gone at most 1.5 × TTL after it was stored — and a sweep runs at least every TTL.
   */
  startSweeping(): void {
    if (this.timer) return;
    const every = Math.min(Math.max(Math.floor(this.ttlMs / 2), 1000), 3_600_000);
    this.timer = setInterval(() => {
      this.sweep().catch((error: unknown) => this.logger?.error({ err: error }, "upload sweep failed; it runs again at the next interval"));
    }, every);
    this.timer.unref();
  }

  async stopSweeping(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  /** The `artifacts` connection: stored blobs in sha256 order with what references them. */
  async list(args: { referenced?: boolean | null; first?: number | null; after?: string | null }): Promise<StoredArtifactConnection> {
    const first = pageSize(args.first);
    const cursor = decodeCursor(args.after);
    if (cursor && !SHA256_PATTERN.test(cursor.id)) throw badInput("after is not a cursor returned by this API", "after");
    const nodes: StoredArtifactNode[] = [];
    const now = Date.now();
    let from = cursor?.id ?? null;
    while (nodes.length <= first) {
      const page = await this.store.list({ after: from, limit: LIST_BATCH });
      if (page.length === 0) break;
      from = page[page.length - 1]!.sha256;
      const rows = await this.db.artifact.findMany({ where: { sha256: { in: page.map((b) => b.sha256) } }, include: { models: { orderBy: [{ createdAt: "asc" }, { id: "asc" }] } } });
      const bySha = new Map(rows.map((r) => [r.sha256, r]));
      for (const blob of page) {
        const row = bySha.get(blob.sha256);
        if (row?.format === CLAIM_FORMAT) continue; // being deleted
        if (args.referenced != null && args.referenced !== Boolean(row)) continue;
        const { models, ...artifact } = row ?? { models: [] as ModelRowOf[] };
        nodes.push({
          sha256: blob.sha256,
          sizeBytes: blob.sizeBytes,
          storedAt: blob.storedAt,
          ageSeconds: Math.max(0, (now - blob.storedAt.getTime()) / 1000),
          referenced: Boolean(row),
          artifact: row ? { ...(artifact as ArtifactRowOf), sizeBytes: Number((artifact as ArtifactRowOf).sizeBytes) } : null,
          models,
        });
        if (nodes.length > first) break;
      }
      if (page.length < LIST_BATCH) break;
    }
    const edges = nodes.slice(0, first).map((node) => ({ cursor: encodeCursor(null, node.sha256), node }));
    return {
      edges,
      pageInfo: { hasNextPage: nodes.length > first, hasPreviousPage: cursor !== null, startCursor: edges[0]?.cursor ?? null, endCursor: edges[edges.length - 1]?.cursor ?? null },
    };
  }

  /** `deleteArtifact`: an unreferenced blob goes now; a referenced one is CONFLICT. */
  async delete(rawSha256: string): Promise<{ sha256: string; sizeBytes: number }> {
    const sha256 = String(rawSha256).toLowerCase();
    if (!SHA256_PATTERN.test(sha256)) throw badInput("sha256 must be 64 hex digits", "sha256");
    const blob = await this.store.stat(sha256);
    if (!blob) throw notFound("artifact", sha256, "sha256");
    const referencedBy = async () => {
      const row = await this.db.artifact.findUnique({ where: { sha256 }, select: { models: { select: { name: true, version: true, deletedAt: true }, orderBy: { createdAt: "asc" } } } });
      const names = (row?.models ?? []).map((m) => `${m.name}@${m.version}${m.deletedAt ? " (deleted)" : ""}`);
      return conflict(`artifact ${sha256} is referenced by ${names.length ? names.join(", ") : "an Artifact row"}; models keep their artifact, soft-deleted ones too`, "sha256");
    };
    if (await this.db.artifact.findUnique({ where: { sha256 }, select: { id: true } })) throw await referencedBy();
    switch (await this.deleteIfUnreferenced(sha256)) {
      case "deleted":
        return { sha256, sizeBytes: blob.sizeBytes };
      case "referenced":
        throw await referencedBy();
      case "pinned":
        throw conflict(`artifact ${sha256} is being registered (or deleted) right now`, "sha256");
      case "missing":
        throw notFound("artifact", sha256, "sha256");
    }
  }
}

/** NOT_FOUND for a registration whose blob is not (or no longer) in the store. */
export function missingBlob(sha256: string, field: string): DomainError {
  return new DomainError(
    "NOT_FOUND",
    `no uploaded artifact has sha256 ${sha256}: it was never uploaded, or was removed as an unregistered upload older than LAYERMERGE_UPLOAD_TTL; upload it (again) with PUT /artifacts`,
    { field, details: { sha256 } },
  );
}
