import { createTestDatabase, databaseKinds, TestDatabase } from "./support/testDatabase";
import { openDatabase, Database } from "../src/persistence/database";
import { requeueIfStale, staleRunningJobs } from "../src/jobs/staleJobs";

/*
 * Which RUNNING jobs count as abandoned: only those whose heartbeat is older than the lock.
 * Times are given explicitly (`now`), so nothing here waits.
 */
describe.each(databaseKinds)("stale RUNNING jobs (%s)", (kind) => {
  let db: TestDatabase;
  let database: Database;
  const LOCK_MS = 30_000;
  const now = new Date("2026-03-01T12:00:00Z");
  const ago = (ms: number) => new Date(now.getTime() - ms);

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    database = await openDatabase(db.url);
  });
  afterAll(async () => {
    await database?.close();
    await db?.cleanup();
  });

  test("a job is re-queued only when its heartbeat is older than the lock, and only once", async () => {
    const prisma = database.prisma;
    const make = (status: string, heartbeatAt: Date | null, createdAt = ago(3_600_000)) => prisma.job.create({ data: { kind: "MERGE", status, payload: {}, heartbeatAt, createdAt } });
    const stale = await make("RUNNING", ago(LOCK_MS + 1));
    const fresh = await make("RUNNING", ago(LOCK_MS - 1000));
    const exactlyAtLock = await make("RUNNING", ago(LOCK_MS));
    const neverBeat = await make("RUNNING", null);
    const neverBeatYoung = await make("RUNNING", null, ago(1000));
    await make("QUEUED", ago(3_600_000));
    await make("SUCCEEDED", ago(3_600_000));

    expect((await staleRunningJobs(prisma, LOCK_MS, now)).sort()).toEqual([stale.id, neverBeat.id].sort());

    // A runner that reports between the listing and the re-queue keeps its job.
    await prisma.job.update({ where: { id: neverBeat.id }, data: { heartbeatAt: ago(10) } });
    expect(await requeueIfStale(prisma, neverBeat.id, LOCK_MS, now)).toBe(false);
    expect(await requeueIfStale(prisma, fresh.id, LOCK_MS, now)).toBe(false);
    expect(await requeueIfStale(prisma, exactlyAtLock.id, LOCK_MS, now)).toBe(false);
    expect(await requeueIfStale(prisma, neverBeatYoung.id, LOCK_MS, now)).toBe(false);
    // Of two processes reconciling at once, one re-queues it.
    expect(await Promise.all([requeueIfStale(prisma, stale.id, LOCK_MS, now), requeueIfStale(prisma, stale.id, LOCK_MS, now)])).toEqual(expect.arrayContaining([true, false]));

    const rows = await prisma.job.findMany({ where: { id: { in: [stale.id, fresh.id, exactlyAtLock.id, neverBeat.id, neverBeatYoung.id] } } });
    const status = Object.fromEntries(rows.map((r) => [r.id, r.status]));
    expect(status).toEqual({ [stale.id]: "QUEUED", [fresh.id]: "RUNNING", [exactlyAtLock.id]: "RUNNING", [neverBeat.id]: "RUNNING", [neverBeatYoung.id]: "RUNNING" });
    expect(rows.find((r) => r.id === stale.id)!.message).toBe("re-queued: the process running it stopped reporting");
  });
});
