/**
 * `npm run bench:candidates`: merge-candidate lookup and registration latency
 * over a registry of 100,000 models spread over 200 structures of ~300 tensors.
 *
 *   node scripts/bench-candidates.js [--postgres URL] [--models N] [--anchors N] [--known N]
 *     [--new N] [--seed N] [--explain] [--keep] [--proposed-index] [--sqlite-sync-normal]
 *
 * Runs on SQLite (a temp data dir) and, when `--postgres URL` or BENCH_DATABASE_URL is given,
 * again on PostgreSQL in a fresh schema that is dropped at the end. Prints a table per provider
 * and writes bench/results/candidates-<provider>.json. `--proposed-index` and
 * `--sqlite-sync-normal` also price a change (an index, a pragma) against the committed state in
 * alternating blocks within the same run; the main figures are always the committed state.
 *
 * Seeding, so the figures can be judged:
 * - 200 structures = 20 backbones × 10 heads, registered through `registration.ensureStructure`
 *   (so overlaps are computed and stored exactly as registration does). Each ParsedModel comes
 *   from a real safetensors file parsed by the core reader, so a later upload of a file with the
 *   same shapes finds the same structure.
 * - Backbones: 4 families (ResNet-style names at widths 4 and 6, MiT-style names at widths 4 and
 *   6) × 5 variants. Variants of a family share the stem and the first stages tensor for tensor,
 *   differ in the depth of stage 3 (tensors only one side has) and, for variants 3–4, in the
 *   channel count of stage 4 (same names, other shapes: mismatches). Families of the same naming
 *   style share names at other widths (all mismatches), like MiT-B0 vs MiT-B2.
 * - Heads: 5 kinds (FCN, SegFormer MLP, PSP, ASPP, UPerNet; PSP and UPerNet share module names)
 *   × 2 class counts (19 Cityscapes/GTA5, 16 Synthia: conv_seg mismatches).
 * - 100,000 models by bulk insert (`createMany`, 1,000 rows a batch, with an Artifact row each
 *   whose blob is not in the store), over the structures by a Zipf(1) law on a shuffled rank, so
 *   a few structures hold thousands of models as popular architectures do.
 * - Every other model adapts to a target dataset (Cityscapes), and 60 % of those have a canonical
 *   score on it (an Evaluation and a ModelScore row each): candidates of such an anchor are
 *   ordered by that score within a shared fraction, a path of its own, reported separately.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { loadConfig } from "../src/config/config";
import { startApp } from "../src/main";
import { parsePostgresUrl } from "../src/persistence/postgresUrl";
import { sqliteFilePath } from "../src/persistence/migrate";
import { prng } from "../src/core/testing/prng";
import { createTestDatabase } from "../test/support/testDatabase";
import { BACKBONES, HEADS, HEAD_KINDS, backbone, fileFor, head, parse, type Spec } from "./candidateFamilies";

type App = Awaited<ReturnType<typeof startApp>>;
type Provider = "sqlite" | "postgres";

/**
 * The index this benchmark argues for (see the report in the results): candidates read a range of
 * it per structure in id order and count it without touching the table. Same DDL on both
 * providers; it replaces "Model_structureId_idx" (a prefix of it).
 */
const PROPOSED_INDEXES = [
  `CREATE INDEX "Model_structureId_deletedAt_id_idx" ON "Model"("structureId", "deletedAt", "id")`,
  `DROP INDEX "Model_structureId_idx"`,
];

const TARGETS = { candidatesP95Ms: 25, knownRegistrationMs: 10, newRegistrationMs: 250 };

interface Options {
  postgres?: string;
  models: number;
  anchors: number;
  knownRegistrations: number;
  newRegistrations: number;
  explain: boolean;
  /** Leave the database (SQLite dir / PostgreSQL schema) in place for investigation. */
  keep: boolean;
  /** Also time candidates with PROPOSED_INDEXES (not in prisma/ yet), in alternating blocks. */
  proposedIndex: boolean;
  /** SQLite: also time registrations with `PRAGMA synchronous = NORMAL`, in alternating blocks. */
  syncNormal: boolean;
  seed: number;
}

function parseArgs(argv: string[]): Options {
  const options: Options = {
    postgres: process.env.BENCH_DATABASE_URL || undefined,
    models: 100_000,
    anchors: 200,
    knownRegistrations: 200,
    newRegistrations: 20,
    explain: false,
    keep: false,
    proposedIndex: false,
    syncNormal: false,
    seed: 20240915,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === "--postgres") options.postgres = value();
    else if (arg === "--models") options.models = positive(arg, value());
    else if (arg === "--anchors") options.anchors = positive(arg, value());
    else if (arg === "--known") options.knownRegistrations = positive(arg, value());
    else if (arg === "--new") options.newRegistrations = Math.min(BACKBONES * 5, positive(arg, value()));
    else if (arg === "--seed") options.seed = positive(arg, value());
    else if (arg === "--explain") options.explain = true;
    else if (arg === "--keep") options.keep = true;
    else if (arg === "--proposed-index") options.proposedIndex = true;
    else if (arg === "--sqlite-sync-normal") options.syncNormal = true;
    else throw new Error(`unknown argument ${arg}; usage: bench-candidates [--postgres URL] [--models N] [--anchors N] [--known N] [--new N] [--seed N] [--explain] [--keep] [--proposed-index] [--sqlite-sync-normal]`);
  }
  return options;
}

function positive(name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer (got ${raw})`);
  return n;
}

// ---------------------------------------------------------------------------------------------
// Measurement helpers

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

interface Stats {
  n: number;
  medianMs: number;
  p95Ms: number;
  meanMs: number;
  minMs: number;
  maxMs: number;
}

function stats(samples: readonly number[]): Stats {
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

function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = now();
  const value = await fn();
  return { ms: now() - t0, value };
}

function log(message: string): void {
  process.stderr.write(`[bench:candidates] ${message}\n`);
}

// ---------------------------------------------------------------------------------------------
// The run

const CANDIDATES = `query($a: ID!) { mergeCandidates(anchorId: $a, first: 20) {
  totalCount
  edges { node { model { id name } sharedFraction sharedTensorCount groups { prefix shared total } } } } }`;

interface Target {
  provider: Provider;
  databaseUrl: string;
  dataDir: string;
  cleanup(): Promise<void>;
}

/** The benchmark's database: the tests' fresh SQLite file or PostgreSQL schema, dropped after. */
async function databaseTarget(kind: Provider, base?: string): Promise<Target> {
  const db = await createTestDatabase(kind, base);
  return { provider: db.kind, databaseUrl: db.url, dataDir: db.dataDir, cleanup: () => db.cleanup() };
}

interface Seeded {
  taskId: string;
  structureIds: string[];
  /** Specs of structure k = backbone ⌊k/10⌋ with head k mod 10. */
  specs: Spec[][];
  tensorCounts: number[];
  modelIds: string[];
  /** Models with a target dataset (their candidates are ordered by score on it). */
  targeted: Set<string>;
  scoredModels: number;
  modelsPerStructure: number[];
  overlapRows: number;
  seedStructuresMs: number;
  seedModelsMs: number;
}

async function seed(app: App, options: Options): Promise<Seeded> {
  const { services } = app;
  const db = services.database.prisma;
  const task = await services.tasks.create({ key: "semantic", name: "Semantic segmentation", kind: "SEMANTIC", primaryMetric: "MIOU" });
  const cityscapes = await db.dataset.create({ data: { name: "cityscapes", split: "val", taskId: task.id, format: "CITYSCAPES", location: "/data/cityscapes", classes: [] } });

  const t0 = now();
  const structureIds: string[] = [];
  const specs: Spec[][] = [];
  const tensorCounts: number[] = [];
  for (let b = 0; b < BACKBONES; b++) {
    const bb = backbone(b);
    for (let h = 0; h < HEADS; h++) {
      const s = [...bb.tensors, ...head(h, bb)];
      specs.push(s);
      tensorCounts.push(s.length);
      structureIds.push(await services.registration.ensureStructure(parse(fileFor(s, 0))));
    }
  }
  const seedStructuresMs = now() - t0;
  if (new Set(structureIds).size !== structureIds.length) throw new Error("bench generator made two identical structures");
  const overlapRows = await db.structureOverlap.count();
  log(`seeded ${structureIds.length} structures (${overlapRows} overlap rows) in ${(seedStructuresMs / 1000).toFixed(1)} s`);

  // Zipf(1) over a shuffled ranking of the structures.
  const random = prng(options.seed);
  const rank = structureIds.map((_, k) => k);
  for (let k = rank.length - 1; k > 0; k--) {
    const j = Math.floor(random() * (k + 1));
    [rank[k], rank[j]] = [rank[j]!, rank[k]!];
  }
  const weights = rank.map((r) => 1 / (r + 1));
  const total = weights.reduce((s, w) => s + w, 0);
  const modelsPerStructure = weights.map((w) => Math.floor((w / total) * options.models));
  for (let k = 0, left = options.models - modelsPerStructure.reduce((s, n) => s + n, 0); left > 0; k = (k + 1) % modelsPerStructure.length, left--) modelsPerStructure[k]!++;

  const t1 = now();
  const modelIds: string[] = [];
  const targeted = new Set<string>();
  let scoredModels = 0;
  const scoring = prng(options.seed + 3);
  const BATCH = 1000;
  let pending: Array<{ structure: number; n: number }> = [];
  const flush = async (rows: Array<{ structure: number; n: number }>) => {
    const artifacts = rows.map(() => ({ id: randomUUID(), sha256: randomUUID().replace(/-/g, "") + randomUUID().replace(/-/g, ""), sizeBytes: BigInt(100_000), format: "safetensors", storageKey: "" }));
    for (const a of artifacts) a.storageKey = a.sha256;
    const models = rows.map((r, k) => ({
      id: randomUUID(),
      name: `bench-s${r.structure}-m${r.n}`,
      taskId: task.id,
      architecture: HEAD_KINDS[r.structure % 5],
      structureId: structureIds[r.structure]!,
      artifactId: artifacts[k]!.id,
      targetDatasetId: r.n % 2 === 0 ? cityscapes.id : null,
    }));
    const evaluations = models
      .filter((m) => m.targetDatasetId && scoring() < 0.6)
      .map((m) => ({ id: randomUUID(), modelId: m.id, datasetId: cityscapes.id, settingsHash: "bench", canonical: true, score: Math.round(scoring() * 10_000) / 10_000, metrics: {}, perClass: [] }));
    await db.artifact.createMany({ data: artifacts });
    await db.model.createMany({ data: models });
    await db.evaluation.createMany({ data: evaluations });
    await db.modelScore.createMany({ data: evaluations.map((e) => ({ modelId: e.modelId, datasetId: e.datasetId, score: e.score, evaluationId: e.id })) });
    scoredModels += evaluations.length;
    for (const m of models) {
      modelIds.push(m.id);
      if (m.targetDatasetId) targeted.add(m.id);
    }
  };
  for (let s = 0; s < structureIds.length; s++) {
    for (let n = 0; n < modelsPerStructure[s]!; n++) {
      pending.push({ structure: s, n });
      if (pending.length === BATCH) {
        await flush(pending);
        pending = [];
      }
    }
  }
  if (pending.length) await flush(pending);
  const seedModelsMs = now() - t1;
  log(`bulk-inserted ${modelIds.length} models (+ an Artifact row each; ${targeted.size} with a target dataset, ${scoredModels} scored on it) in ${(seedModelsMs / 1000).toFixed(1)} s`);
  await settle(app);
  return { taskId: task.id, structureIds, specs, tensorCounts, modelIds, targeted, scoredModels, modelsPerStructure, overlapRows, seedStructuresMs, seedModelsMs };
}

/**
 * A registry in steady state rather than one just bulk-loaded: planner statistics, and on
 * PostgreSQL a vacuumed heap so the visibility map allows index-only scans (autovacuum would do
 * both in production; the test server here runs with autovacuum off), and a CHECKPOINT: the
 * bulk load leaves ~150 MB of dirty pages that the checkpointer would otherwise be writing back
 * while registrations are timed (their commits then wait behind it: a p95 of 12.3 ms instead of
 * ~9 in one run) — in a registry that grew to 100,000 models they were written long ago. SQLite's
 * WAL is folded back into the database file.
 */
async function settle(app: App): Promise<void> {
  const db = app.services.database.prisma;
  if (app.services.database.provider === "postgres") {
    await db.$executeRawUnsafe("VACUUM ANALYZE");
    await db.$executeRawUnsafe("CHECKPOINT");
  } else {
    await db.$executeRawUnsafe("ANALYZE");
    await db.$queryRawUnsafe("PRAGMA wal_checkpoint(TRUNCATE)");
  }
}

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
interface Variant {
  label: string;
  toChange(): Promise<void>;
  toBase(): Promise<void>;
}

const BLOCKS = 4;

async function timeRegistrations(app: App, seeded: Seeded, options: Options, variant?: Variant) {
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

async function timeCandidates(app: App, seeded: Seeded, options: Options, variant?: Variant) {
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
function indexVariant(app: App): Variant {
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
function syncVariant(app: App): Variant {
  const db = app.services.database.prisma;
  const set = async (mode: "FULL" | "NORMAL", code: number) => {
    await db.$queryRawUnsafe(`PRAGMA synchronous = ${mode}`);
    const [row] = await db.$queryRawUnsafe<Array<{ synchronous: bigint | number }>>("PRAGMA synchronous");
    if (Number(row?.synchronous) !== code) throw new Error(`PRAGMA synchronous reads ${row?.synchronous} after setting ${mode}: the app uses another connection`);
  };
  return { label: "synchronous = NORMAL", toChange: () => set("NORMAL", 1), toBase: () => set("FULL", 2) };
}

async function sizeBytes(app: App): Promise<number> {
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

async function databaseSize(app: App, target: Target): Promise<{ bytes: number; detail: Record<string, number> }> {
  const db = app.services.database.prisma;
  if (target.provider === "sqlite") {
    const file = sqliteFilePath(target.databaseUrl);
    const size = (f: string) => (fs.existsSync(f) ? fs.statSync(f).size : 0);
    const detail = { db: size(file), wal: size(`${file}-wal`) };
    const perTable = await tableSizesSqlite(app);
    return { bytes: detail.db + detail.wal, detail: { ...detail, ...perTable } };
  }
  const schema = parsePostgresUrl(target.databaseUrl).schema;
  const rows = await db.$queryRawUnsafe<Array<{ t: string; n: bigint }>>(
    `SELECT c.relname::text AS t, pg_total_relation_size(c.oid) AS n FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace WHERE ns.nspname = $1 AND c.relkind = 'r' ORDER BY 2 DESC`,
    schema,
  );
  const detail = Object.fromEntries(rows.map((r) => [r.t, Number(r.n)]));
  return { bytes: rows.reduce((s, r) => s + Number(r.n), 0), detail };
}

/** Per-table bytes (tables and their indexes) from SQLite's dbstat, when compiled in. */
async function tableSizesSqlite(app: App): Promise<Record<string, number>> {
  try {
    const rows = await app.services.database.prisma.$queryRawUnsafe<Array<{ name: string; n: bigint | number }>>(
      `SELECT COALESCE(m.tbl_name, d.name) AS name, SUM(d.pgsize) AS n FROM dbstat d LEFT JOIN sqlite_master m ON m.name = d.name GROUP BY 1 ORDER BY 2 DESC`,
    );
    return Object.fromEntries(rows.map((r) => [`table:${r.name}`, Number(r.n)]));
  } catch {
    return {};
  }
}

/**
 * The plans of CandidateService's statements (same SQL shape) for an anchor of the busiest
 * structure, for the report (`--explain`).
 */
async function explain(app: App, seeded: Seeded): Promise<string> {
  const db = app.services.database.prisma;
  const provider = app.services.database.provider;
  const counts = seeded.modelsPerStructure;
  const busiest = counts.indexOf(Math.max(...counts));
  const anchor = await db.model.findFirstOrThrow({ where: { structureId: seeded.structureIds[busiest] }, select: { id: true, structureId: true } });
  const S = anchor.structureId!;
  const overlapping = `SELECT o."structureBId" AS "sid", o."fractionOfA" AS "f" FROM "StructureOverlap" o WHERE o."structureAId" = '${S}' AND o."fractionOfA" >= 0.5
      UNION ALL SELECT o."structureAId", o."fractionOfB" FROM "StructureOverlap" o WHERE o."structureBId" = '${S}' AND o."fractionOfB" >= 0.5`;
  const sids = [S, ...(await db.$queryRawUnsafe<Array<{ sid: string }>>(overlapping)).map((r) => r.sid)];
  const filters = `m."deletedAt" IS NULL AND m."id" <> '${anchor.id}'`;
  const page = `SELECT * FROM (SELECT m."id" AS "modelId", m."structureId" AS "sid", 0 AS "tier" FROM "Model" m WHERE m."structureId" IN ('${S}') AND ${filters} ORDER BY m."id" ASC LIMIT 21) AS t0`;
  const count = `SELECT COUNT(*) AS "n" FROM "Model" m WHERE m."structureId" IN (${sids.map((x) => `'${x}'`).join(", ")}) AND ${filters}`;
  const out: string[] = [`anchor ${anchor.id}: its structure has ${counts[busiest]} models; ${sids.length - 1} other structures overlap it by ≥ 0.5`];
  for (const [label, sql] of [["overlapping structures", overlapping], ["page (first tier)", page], ["count", count]] as const) {
    out.push(`-- ${label}`);
    if (provider === "sqlite") {
      const rows = await db.$queryRawUnsafe<Array<{ detail: string }>>(`EXPLAIN QUERY PLAN ${sql}`);
      out.push(...rows.map((r) => r.detail));
      const t = await timed(() => db.$queryRawUnsafe(sql));
      out.push(`(ran in ${t.ms.toFixed(2)} ms through Prisma)`);
    } else {
      const rows = await db.$queryRawUnsafe<Array<{ "QUERY PLAN": string }>>(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`);
      out.push(...rows.map((r) => r["QUERY PLAN"]));
    }
  }
  return out.join("\n");
}

interface Result {
  provider: Provider;
  date: string;
  commit: string;
  node: string;
  machine: { cpus: number; cpuModel: string; loadAverageAtStart: number[]; loadAverageAtEnd: number[] };
  /**
   * Changes priced against the committed state in alternating blocks (`change` entries);
   * every other figure is the committed state.
   */
  changesPriced: string[];
  seeding: {
    structures: number;
    tensorsPerStructure: { min: number; mean: number; max: number };
    overlapRows: number;
    structuresVia: string;
    structuresSeconds: number;
    models: number;
    modelsVia: string;
    modelsSeconds: number;
    modelsPerStructure: { min: number; median: number; max: number; distribution: string };
    modelsWithTargetDataset: number;
    modelsScoredOnIt: number;
  };
  registration: Awaited<ReturnType<typeof timeRegistrations>>;
  candidates: Awaited<ReturnType<typeof timeCandidates>> & { anchors: number; via: string };
  databaseBytes: number;
  databaseDetail: Record<string, number>;
  targets: typeof TARGETS;
  met: { candidates: boolean; knownRegistration: boolean; newRegistration: boolean };
  explain?: string;
}

async function runOn(target: Target, options: Options): Promise<Result> {
  log(`${target.provider}: starting the app (data dir ${target.dataDir})`);
  const config = loadConfig({ DATABASE_URL: target.databaseUrl, LAYERMERGE_DATA_DIR: target.dataDir, PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "silent" });
  const app = await startApp(config);
  // The machine may be shared: the load average says how much the figures can be trusted.
  const loadAtStart = os.loadavg().map((x) => Math.round(x * 100) / 100);
  try {
    const seeded = await seed(app, options);
    const sync = options.syncNormal && target.provider === "sqlite" ? syncVariant(app) : undefined;
    log(`${target.provider}: timing ${options.knownRegistrations} known-structure and ${options.newRegistrations} new-structure registrations${sync ? `, and as many with ${sync.label}` : ""}`);
    const registration = await timeRegistrations(app, seeded, options, sync);
    const index = options.proposedIndex ? indexVariant(app) : undefined;
    log(`${target.provider}: timing mergeCandidates over HTTP for ${options.anchors} anchors${index ? `, and as many with the ${index.label}` : ""}`);
    const candidates = await timeCandidates(app, seeded, options, index);
    const size = await databaseSize(app, target);
    const explained = options.explain ? await explain(app, seeded) : undefined;
    const sortedCounts = [...seeded.modelsPerStructure].sort((a, b) => a - b);
    return {
      provider: target.provider,
      date: new Date().toISOString(),
      commit: gitCommit(),
      node: process.version,
      machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? "unknown", loadAverageAtStart: loadAtStart, loadAverageAtEnd: os.loadavg().map((x) => Math.round(x * 100) / 100) },
      changesPriced: [
        ...(index ? [`candidates.change: ${PROPOSED_INDEXES.join("; ")}`] : []),
        ...(sync ? ["registration.change: PRAGMA synchronous = NORMAL on the app's SQLite connection"] : []),
      ],
      seeding: {
        structures: seeded.structureIds.length,
        tensorsPerStructure: {
          min: Math.min(...seeded.tensorCounts),
          mean: Math.round(seeded.tensorCounts.reduce((s, n) => s + n, 0) / seeded.tensorCounts.length),
          max: Math.max(...seeded.tensorCounts),
        },
        overlapRows: seeded.overlapRows,
        structuresVia: "services.registration.ensureStructure (overlaps computed and stored as at registration)",
        structuresSeconds: Math.round(seeded.seedStructuresMs) / 1000,
        models: seeded.modelIds.length,
        modelsVia: "bulk insert: prisma createMany, 1,000 Model + 1,000 Artifact rows a batch (+ Evaluation and ModelScore rows for the scored)",
        modelsSeconds: Math.round(seeded.seedModelsMs) / 1000,
        modelsPerStructure: { min: sortedCounts[0]!, median: percentile(sortedCounts, 50), max: sortedCounts[sortedCounts.length - 1]!, distribution: "Zipf(1) over a shuffled structure ranking" },
        modelsWithTargetDataset: seeded.targeted.size,
        modelsScoredOnIt: seeded.scoredModels,
      },
      registration,
      candidates: { ...candidates, anchors: options.anchors, via: "GraphQL over HTTP (fetch), first: 20, after 20 warm-up queries; anchors uniform over models" },
      databaseBytes: size.bytes,
      databaseDetail: size.detail,
      targets: TARGETS,
      met: {
        candidates: candidates.latency.p95Ms <= TARGETS.candidatesP95Ms,
        knownRegistration: registration.base.known.p95Ms <= TARGETS.knownRegistrationMs,
        newRegistration: registration.base.new.p95Ms <= TARGETS.newRegistrationMs,
      },
      explain: explained,
    };
  } finally {
    await app.stop();
  }
}

function gitCommit(): string {
  try {
    return execSync("git rev-parse --short HEAD", { cwd: path.resolve(__dirname, ".."), stdio: ["ignore", "pipe", "ignore"] }).toString().trim();
  } catch {
    return "unknown";
  }
}

function table(r: Result): string {
  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
  const mark = (ok: boolean) => (ok ? "ok" : "MISSED");
  const row = (label: string, x: Stats, target: number, how: string): [string, string, string, string, string] => [label, String(x.medianMs), String(x.p95Ms), `${how} ${target} ms`, mark(x.p95Ms <= target)];
  const rows: Array<[string, string, string, string, string]> = [
    ["measure", "median ms", "p95 ms", "target", ""],
    row("register, known structure", r.registration.base.known, TARGETS.knownRegistrationMs, "≤"),
    row("register, new structure", r.registration.base.new, TARGETS.newRegistrationMs, "≤"),
    row("mergeCandidates (HTTP, first 20)", r.candidates.latency, TARGETS.candidatesP95Ms, "p95 ≤"),
  ];
  const change = r.registration.change;
  if (change) rows.splice(3, 0, row(`  with ${change.label}`, change.known, TARGETS.knownRegistrationMs, "≤"), row(`  new, with ${change.label}`, change.new, TARGETS.newRegistrationMs, "≤"));
  if (r.candidates.change) rows.push(row(`  with ${r.candidates.change.label}`, r.candidates.change.latency, TARGETS.candidatesP95Ms, "p95 ≤"));
  rows.push(
    row("  anchors with a target dataset (score order)", r.candidates.latencyByAnchor.withTargetDataset, TARGETS.candidatesP95Ms, "p95 ≤"),
    row("  anchors without one", r.candidates.latencyByAnchor.withoutTargetDataset, TARGETS.candidatesP95Ms, "p95 ≤"),
    ["  of which: service call alone", String(r.candidates.serviceLatency.medianMs), String(r.candidates.serviceLatency.p95Ms), "", ""],
    ["  floor: { __typename } over HTTP", String(r.candidates.httpFloorLatency.medianMs), String(r.candidates.httpFloorLatency.p95Ms), "", ""],
  );
  const widths = [0, 1, 2, 3, 4].map((k) => Math.max(...rows.map((row) => row[k]!.length)));
  const lines = rows.map((row) => row.map((c, k) => (k === 0 ? c.padEnd(widths[k]!) : c.padStart(widths[k]!))).join("  "));
  lines.splice(1, 0, widths.map((w) => "-".repeat(w)).join("  "));
  const t = r.candidates.totalCount;
  return [
    `== ${r.provider} (commit ${r.commit}, ${r.node}, ${r.machine.cpus} CPUs, load average ${r.machine.loadAverageAtStart[0]} at start, ${r.machine.loadAverageAtEnd[0]} at end) ==`,
    `seeded ${r.seeding.structures} structures (${r.seeding.tensorsPerStructure.min}–${r.seeding.tensorsPerStructure.max} tensors, mean ${r.seeding.tensorsPerStructure.mean}; ${r.seeding.overlapRows} overlap rows) via ensureStructure in ${r.seeding.structuresSeconds} s`,
    `seeded ${r.seeding.models} models via ${r.seeding.modelsVia} in ${r.seeding.modelsSeconds} s; models per structure ${r.seeding.modelsPerStructure.min}–${r.seeding.modelsPerStructure.max} (median ${r.seeding.modelsPerStructure.median}, ${r.seeding.modelsPerStructure.distribution}); ${r.seeding.modelsWithTargetDataset} with a target dataset, ${r.seeding.modelsScoredOnIt} scored on it`,
    ...lines,
    `candidates per anchor (totalCount): min ${t.min}, median ${t.median}, p95 ${t.p95}, max ${t.max}, mean ${t.mean}  (${r.candidates.anchors} anchors)`,
    `registration samples: known n=${r.registration.base.known.n} (max ${r.registration.base.known.maxMs} ms), new n=${r.registration.base.new.n} (max ${r.registration.base.new.maxMs} ms)${r.changesPriced.length ? "; indented rows: the same in alternating blocks with the change (see changesPriced in the JSON)" : ""}`,
    `database size: ${mb(r.databaseBytes)}  ${Object.entries(r.databaseDetail).slice(0, 8).map(([k, v]) => `${k} ${mb(v)}`).join(", ")}${r.candidates.change?.databaseBytes ? `; with the ${r.candidates.change.label}: ${mb(r.candidates.change.databaseBytes)}` : ""}`,
    ...(r.explain ? ["query plans:", r.explain] : []),
  ].join("\n");
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const targets: Array<() => Promise<Target>> = [() => databaseTarget("sqlite")];
  if (options.postgres) {
    const base = options.postgres;
    targets.push(() => databaseTarget("postgres", base));
  }
  const resultsDir = path.resolve(__dirname, "results");
  fs.mkdirSync(resultsDir, { recursive: true });
  for (const make of targets) {
    const target = await make();
    try {
      const result = await runOn(target, options);
      console.log(table(result) + "\n");
      const file = path.join(resultsDir, `candidates-${result.provider}.json`);
      fs.writeFileSync(file, JSON.stringify(result, null, 2) + "\n");
      log(`wrote ${path.relative(process.cwd(), file)}`);
    } finally {
      if (options.keep) log(`kept ${target.databaseUrl} (data dir ${target.dataDir})`);
      else await target.cleanup();
    }
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
