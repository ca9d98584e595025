/**
 * bench:candidates' measurements: registration (known and new structures) and mergeCandidates
 * latency, each optionally against a change priced in alternating blocks (a Variant), and the
 * sample statistics they report. See candidatesBench.ts for what is seeded and why.
 */
import * as fs from "node:fs";
import { Readable } from "node:stream";
import type { startApp } from "../src/main";
import { sqliteFilePath } from "../src/persistence/migrate";
import { prng } from "../src/core/testing/prng";
import { BACKBONES, backbone, fileFor, head } from "./candidateFamilies";
import { settle, type Seeded } from "./candidatesSeed";

type App = Awaited<ReturnType<typeof startApp>>;

/** What the measurements take from the command line. */
export interface MeasureOptions {
  anchors: number;
  knownRegistrations: number;
  newRegistrations: number;
  seed: number;
}


/**
 * The index this benchmark argues for (see the report in the results): candidates read a range of
 * it per structure in id order and count it without touching the table. Same DDL on both
 * providers; it replaces "Model_structureId_idx" (a prefix of it).
 */
export const PROPOSED_INDEXES = [
  `CREATE INDEX "Model_structureId_deletedAt_id_idx" ON "Model"("structureId", "deletedAt", "id")`,
  `DROP INDEX "Model_structureId_idx"`,
];

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export interface Stats {
  n: number;
  medianMs: number;
  p95Ms: number;
  meanMs: number;
  minMs: number;
  maxMs: number;
}

export function stats(samples: readonly number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 100) / 100;
  return {
    n: sorted.length,
    medianMs: round(percentile(sorted, 50)),
    p95Ms: round(percentile(sorted, 95)),
    meanMs: round(sorted.reduce((s, x) => s + x, 0) / Math.max(1, sorted.length)),
    minMs: round(sorted[0] ?? NaN),
    maxMs: round(sorted[sorted.length - 1] ?? NaN),
  };
}

export function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = now();
  const value = await fn();
  return { ms: now() - t0, value };
}

const CANDIDATES = `query($a: ID!) { mergeCandidates(anchorId: $a, first: 20) {
  totalCount
  edges { node { model { id name } sharedFraction sharedTensorCount groups { prefix shared total } } } } }`;

interface Prepared {
  sha256: string;
  name: string;
}

async function upload(app: App, bytes: Uint8Array): Promise<string> {
  const blob = await app.services.store.put(Readable.from([Buffer.from(bytes)]));
  return blob.sha256;
}

/**
 * A change priced against the committed state in the same process, minutes apart: blocks of
 * samples alternate base, change, base, change, so load from other processes on a shared
 * machine falls on both alike.
 */
export interface Variant {
  label: string;
  toChange(): Promise<void>;
  toBase(): Promise<void>;
}

const BLOCKS = 4;

export async function timeRegistrations(app: App, seeded: Seeded, options: MeasureOptions, variant?: Variant) {
  const random = prng(options.seed + 1);
  const rounds = variant ? 2 : 1;
  // Uploads first, untimed: the figure is registration, not upload.
  const known: Prepared[] = [];
  for (let i = 0; i < options.knownRegistrations * rounds; i++) {
    const s = Math.floor(random() * seeded.structureIds.length);
    known.push({ sha256: await upload(app, fileFor(seeded.specs[s]!, 1000 + i)), name: `bench-known-${i}` });
  }
  const fresh: Prepared[] = [];
  for (let i = 0; i < options.newRegistrations * rounds; i++) {
    // Heads with 21, 22… classes: new on every backbone (i mod 20), five kinds in turn.
    const bb = backbone(i % BACKBONES);
    const k = Math.floor(i / BACKBONES);
    const specs = [...bb.tensors, ...head((i + k) % 5, bb, 21 + Math.floor(k / 5))];
    fresh.push({ sha256: await upload(app, fileFor(specs, 5000 + i)), name: `bench-new-${i}` });
  }
  const register = (p: Prepared) => app.services.registration.register({ artifactSha256: p.sha256, name: p.name, taskId: seeded.taskId });

  // Warm-up, not counted: the worker thread starts and both threads' JITs settle.
  for (let i = 0; i < 10; i++) await register({ sha256: await upload(app, fileFor(seeded.specs[i * 7]!, 900_000 + i)), name: `bench-warmup-${i}` });

  const structuresBefore = await app.services.database.prisma.structure.count();
  const samples = { base: { known: [] as number[], new: [] as number[] }, change: { known: [] as number[], new: [] as number[] } };
  const blocks = variant ? BLOCKS : 1;
  for (let b = 0; b < blocks; b++) {
    const side = b % 2 === 0 ? "base" : "change";
    if (variant) await (side === "base" ? variant.toBase() : variant.toChange());
    for (const p of known.splice(0, Math.ceil(options.knownRegistrations / (blocks / rounds)))) samples[side].known.push((await timed(() => register(p))).ms);
    for (const p of fresh.splice(0, Math.ceil(options.newRegistrations / (blocks / rounds)))) samples[side].new.push((await timed(() => register(p))).ms);
  }
  if (variant) await variant.toBase();
  const created = (await app.services.database.prisma.structure.count()) - structuresBefore;
  const expected = samples.base.new.length + samples.change.new.length;
  if (created !== expected) throw new Error(`registrations created ${created} structures, expected ${expected}: the generator and the reader disagree`);
  return {
    base: { known: stats(samples.base.known), new: stats(samples.base.new) },
    change: variant ? { label: variant.label, known: stats(samples.change.known), new: stats(samples.change.new) } : undefined,
  };
}

export async function timeCandidates(app: App, seeded: Seeded, options: MeasureOptions, variant?: Variant) {
  const random = prng(options.seed + 2);
  const pick = () => seeded.modelIds[Math.floor(random() * seeded.modelIds.length)]!;
  const query = async (anchor: string) => {
    const res = await fetch(app.server.url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: CANDIDATES, variables: { a: anchor } }) });
    const body = (await res.json()) as { data?: { mergeCandidates: { totalCount: number; edges: unknown[] } }; errors?: unknown };
    if (!res.ok || body.errors || !body.data) throw new Error(`mergeCandidates failed (${res.status}): ${JSON.stringify(body.errors ?? body)}`);
    return body.data.mergeCandidates;
  };
  const floor = async () => {
    const res = await fetch(app.server.url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: "{ __typename }" }) });
    await res.json();
  };
  const samples = { base: [] as number[], change: [] as number[] };
  // Where the time goes, in the committed state: the service call alone, and an empty GraphQL
  // request over the same HTTP path (server, Apollo, JSON) as a floor.
  const service: number[] = [];
  const httpFloor: number[] = [];
  const totals: number[] = [];
  const pageSizes: number[] = [];
  const byAnchor = { targeted: [] as number[], untargeted: [] as number[] };
  const blocks = variant ? BLOCKS : 1;
  let changeBytes: number | undefined;
  for (let b = 0; b < blocks; b++) {
    const side = b % 2 === 0 ? "base" : "change";
    if (variant) await (side === "base" ? variant.toBase() : variant.toChange());
    for (let i = 0; i < 20; i++) await query(pick());
    for (let i = 0; i < Math.ceil(options.anchors / (blocks / (variant ? 2 : 1))); i++) {
      const anchor = pick();
      const { ms: t, value } = await timed(() => query(anchor));
      samples[side].push(t);
      if (side === "base") byAnchor[seeded.targeted.has(anchor) ? "targeted" : "untargeted"].push(t);
      totals.push(value.totalCount);
      pageSizes.push(value.edges.length);
      if (side === "base") {
        service.push((await timed(() => app.services.candidates.candidates({ anchorId: anchor, first: 20 }))).ms);
        httpFloor.push((await timed(floor)).ms);
      }
    }
    if (side === "change") changeBytes = await sizeBytes(app);
  }
  if (variant) await variant.toBase();
  const sortedTotals = [...totals].sort((a, b) => a - b);
  return {
    latency: stats(samples.base),
    /** The same HTTP samples split by anchor: with a target dataset (ordered by score on it) or not. */
    latencyByAnchor: { withTargetDataset: stats(byAnchor.targeted), withoutTargetDataset: stats(byAnchor.untargeted) },
    /** The same anchors through `services.candidates.candidates` directly (no HTTP, no GraphQL). */
    serviceLatency: stats(service),
    /** `{ __typename }` over HTTP: what any GraphQL request costs here. */
    httpFloorLatency: stats(httpFloor),
    change: variant ? { label: variant.label, latency: stats(samples.change), databaseBytes: changeBytes } : undefined,
    totalCount: { min: sortedTotals[0]!, median: percentile(sortedTotals, 50), p95: percentile(sortedTotals, 95), max: sortedTotals[sortedTotals.length - 1]!, mean: Math.round(totals.reduce((s, n) => s + n, 0) / totals.length) },
    pageSize: { min: Math.min(...pageSizes), max: Math.max(...pageSizes) },
  };
}

/** The proposed index change as a variant (both providers). */
export function indexVariant(app: App): Variant {
  const db = app.services.database.prisma;
  return {
    label: "proposed index",
    async toChange() {
      for (const ddl of PROPOSED_INDEXES) await db.$executeRawUnsafe(ddl);
      await settle(app);
    },
    async toBase() {
      await db.$executeRawUnsafe(`DROP INDEX IF EXISTS "Model_structureId_deletedAt_id_idx"`);
      await db.$executeRawUnsafe(`CREATE INDEX IF NOT EXISTS "Model_structureId_idx" ON "Model"("structureId")`);
      await settle(app);
    },
  };
}

/**
 * SQLite `synchronous = NORMAL` on the app's connection: in WAL mode it skips the fsync at each
 * commit; a power loss can undo the last commits but cannot corrupt the database
 * (sqlite.org/pragma.html#pragma_synchronous). Read back, so a second connection would show.
 */
export function syncVariant(app: App): Variant {
  const db = app.services.database.prisma;
  const set = async (mode: "FULL" | "NORMAL", code: number) => {
    await db.$queryRawUnsafe(`PRAGMA synchronous = ${mode}`);
    const [row] = await db.$queryRawUnsafe<Array<{ synchronous: bigint | number }>>("PRAGMA synchronous");
    if (Number(row?.synchronous) !== code) throw new Error(`PRAGMA synchronous reads ${row?.synchronous} after setting ${mode}: the app uses another connection`);
  };
  return { label: "synchronous = NORMAL", toChange: () => set("NORMAL", 1), toBase: () => set("FULL", 2) };
}

export async function sizeBytes(app: App): Promise<number> {
  const db = app.services.database.prisma;
  if (app.services.database.provider === "sqlite") {
    const file = sqliteFilePath(app.config.databaseUrl);
    return [file, `${file}-wal`].reduce((sum, f) => sum + (fs.existsSync(f) ? fs.statSync(f).size : 0), 0);
  }
  const [row] = await db.$queryRawUnsafe<Array<{ n: bigint }>>(
    `SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::bigint AS n FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace WHERE ns.nspname = current_schema() AND c.relkind = 'r'`,
  );
  return Number(row?.n ?? 0);
}
