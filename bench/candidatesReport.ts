/**
 * bench:candidates' report: the result a run writes (bench/results/candidates-*.json), the table
 * it prints, database sizes, and the query plans of `--explain`.
 */
import * as fs from "node:fs";
import type { startApp } from "../src/main";
import { parsePostgresUrl } from "../src/persistence/postgresUrl";
import { sqliteFilePath } from "../src/persistence/migrate";
import { statementText } from "../src/persistence/directSql";
import { pageStatement } from "../src/services/modelReads";
import type { Seeded } from "./candidatesSeed";
import { timed, type Stats, type timeCandidates, type timeRegistrations } from "./candidatesMeasure";
import { DASHBOARD_TARGETS, type DashboardResult } from "./dashboardLoad";

type App = Awaited<ReturnType<typeof startApp>>;
export type Provider = "sqlite" | "postgres";

export const TARGETS = { candidatesP95Ms: 25, knownRegistrationMs: 10, newRegistrationMs: 250 };

export async function pgDatabaseSize(app: App): Promise<number> {
  const [row] = await app.services.database.prisma.$queryRawUnsafe<Array<{ n: bigint }>>(`SELECT pg_database_size(current_database()) AS n`);
  return Number(row?.n ?? 0);
}

export async function databaseSize(app: App, target: { provider: Provider; databaseUrl: string }): Promise<{ bytes: number; detail: Record<string, number> }> {
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
export async function explain(app: App, seeded: Seeded): Promise<string> {
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
  const page = `SELECT * FROM (SELECT m."id" AS "modelId", m."structureId" AS "sid", 0 AS "tier" FROM "Model" m WHERE m."structureId" = '${S}' AND ${filters} ORDER BY m."structureId", m."deletedAt", m."id" LIMIT 21) AS t0`;
  // The dashboard's models page as ModelReads sends it (newest first, live models).
  const models = pageStatement({ field: "createdAt", direction: "desc", after: null, take: 51, includeDeleted: false });
  const dashboard = statementText("postgres", models).replace("$1", String(models.values[0]));
  // totalCount as CandidateService computes it: live models kept per structure, minus the anchor's copies.
  const count = `SELECT SUM(c."liveModels") AS "n" FROM "StructureModelCount" c WHERE c."structureId" IN (${sids.map((x) => `'${x}'`).join(", ")})`;
  const copies = `SELECT COUNT(*) AS "n" FROM "Model" m WHERE m."artifactId" = (SELECT "artifactId" FROM "Model" WHERE "id" = '${anchor.id}') AND ${filters}`;
  const out: string[] = [`anchor ${anchor.id}: its structure has ${counts[busiest]} models; ${sids.length - 1} other structures overlap it by ≥ 0.5`];
  for (const [label, sql] of [["overlapping structures", overlapping], ["page (first tier)", page], ["count", count], ["copies of the anchor's file", copies], ["dashboard models page", dashboard]] as const) {
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

export interface Result {
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
    lineageEdges: number;
    /** Milliseconds per bulk-loaded table and for settling (VACUUM ANALYZE, CHECKPOINT) after. */
    loadDetailMs: Record<string, number>;
  };
  registration: Awaited<ReturnType<typeof timeRegistrations>>;
  candidates: Awaited<ReturnType<typeof timeCandidates>> & { anchors: number; via: string };
  databaseBytes: number;
  databaseDetail: Record<string, number>;
  /**
   * PostgreSQL: pg_database_size of the whole database the schema lives in, measured after the
   * load (it includes whatever else that database holds; databaseBytes is the bench's schema).
   */
  postgresDatabaseBytes?: number;
  dashboard?: DashboardResult;
  targets: typeof TARGETS & { dashboard: typeof DASHBOARD_TARGETS };
  met: { candidates: boolean; knownRegistration: boolean; newRegistration: boolean; dashboard?: boolean };
  explain?: string;
}

export function table(r: Result): string {
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
    `seeded ${r.seeding.structures} structures (${r.seeding.tensorsPerStructure.min}–${r.seeding.tensorsPerStructure.max} tensors, mean ${r.seeding.tensorsPerStructure.mean}; ${r.seeding.overlapRows} overlap rows) via ensureStructure${seconds(r.seeding.structuresSeconds)}`,
    `seeded ${r.seeding.models} models via ${r.seeding.modelsVia}${seconds(r.seeding.modelsSeconds)}; models per structure ${r.seeding.modelsPerStructure.min}–${r.seeding.modelsPerStructure.max} (median ${r.seeding.modelsPerStructure.median}, ${r.seeding.modelsPerStructure.distribution}); ${r.seeding.modelsWithTargetDataset} with a target dataset, ${r.seeding.modelsScoredOnIt} scored on it`,
    ...lines,
    `candidates per anchor (totalCount): min ${t.min}, median ${t.median}, p95 ${t.p95}, max ${t.max}, mean ${t.mean}  (${r.candidates.anchors} anchors)`,
    `registration samples: known n=${r.registration.base.known.n} (max ${r.registration.base.known.maxMs} ms), new n=${r.registration.base.new.n} (max ${r.registration.base.new.maxMs} ms)${r.changesPriced.length ? "; indented rows: the same in alternating blocks with the change (see changesPriced in the JSON)" : ""}`,
    ...(r.dashboard ? [dashboardLine(r.dashboard)] : []),
    `seeding detail: ${r.seeding.lineageEdges} lineage edges; ${Object.entries(r.seeding.loadDetailMs).map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`).join(", ")}`,
    ...(r.postgresDatabaseBytes ? [`pg_database_size (the whole database, after the load): ${mb(r.postgresDatabaseBytes)}`] : []),
    `database size: ${mb(r.databaseBytes)}  ${Object.entries(r.databaseDetail).slice(0, 8).map(([k, v]) => `${k} ${mb(v)}`).join(", ")}${r.candidates.change?.databaseBytes ? `; with the ${r.candidates.change.label}: ${mb(r.candidates.change.databaseBytes)}` : ""}`,
    ...(r.explain ? ["query plans:", r.explain] : []),
  ].join("\n");
}

/** A seeding time, or nothing when the registry was seeded by an earlier run (--reuse). */
function seconds(s: number): string {
  return Number.isFinite(s) ? ` in ${s} s` : "";
}

function dashboardLine(d: DashboardResult): string {
  const run = (x: DashboardResult["floor"]) => `${x.requestsPerSecond} req/s, p50 ${x.p50Ms} ms, p99 ${x.p99Ms} ms, ${x.errors + x.non2xx + x.graphqlErrors} errors`;
  const t = DASHBOARD_TARGETS;
  return [
    `dashboard query (${d.connections} connections, ${d.seconds} s, page of ${d.page.models}: ${d.page.withParents} with parents, ${d.page.withScore} with a score): ${run(d.dashboard)}`,
    `  floor { __typename }: ${run(d.floor)}; ratio ${d.ratio} (target ≥ ${t.ratioToFloor}, p99 ≤ ${t.p99Ms} ms, ${t.errors} errors): ${d.met ? "ok" : "MISSED"}`,
    `  with Cache-Control: no-cache (executed every time): ${run(d.dashboardNoCache)}; ratio ${d.ratioNoCache}`,
  ].join("\n");
}

/** candidates-postgres.json for the default size, candidates-postgres-1m.json for a million. */
export function resultName(provider: Provider, models: number): string {
  if (models === 100_000) return `candidates-${provider}.json`;
  const label = models % 1_000_000 === 0 ? `${models / 1_000_000}m` : models % 1000 === 0 ? `${models / 1000}k` : String(models);
  return `candidates-${provider}-${label}.json`;
}
