import IORedis from "ioredis";
import pino from "pino";
import { createTestDatabase, databaseKinds, TestDatabase } from "./support/testDatabase";
import { haveRedisServer, ownRedis, OwnRedis } from "./support/redisServer";
import { openDatabase, Database } from "../src/persistence/database";
import { BullJobQueue } from "../src/jobs/bullmq";
import { JobEvents } from "../src/jobs/jobEvents";
import { OutageLog, databaseDependency } from "../src/outage";

/*
 * The reconciler against a real redis-server of this file's own (port 6394) and a real
 * database: what it queues again, what it leaves alone, and that a second pass adds nothing.
 */
const REDIS_PORT = 6394;
const describeWithRedis = haveRedisServer() ? describe.each(databaseKinds) : describe.skip.each(databaseKinds);

describeWithRedis("reconciling the queue with the database (%s)", (kind) => {
  let db: TestDatabase;
  let database: Database;
  let redis: OwnRedis;
  let queue: BullJobQueue;
  let inspect: IORedis;
  const LOCK_MS = 60_000;
  const prefix = `lmrec-${kind}`;

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    database = await openDatabase(db.url);
    redis = ownRedis(REDIS_PORT);
    await redis.start();
    const logger = pino({ level: "silent" });
    const outages = { database: new OutageLog(logger, databaseDependency(db.url), db.url), redis: new OutageLog(logger, "Redis", redis.url) };
    queue = new BullJobQueue(database.prisma, new JobEvents(), logger, outages, { redisUrl: redis.url, prefix, attempts: 3, lockMs: LOCK_MS, reconcileMs: 3_600_000 });
    await queue.start();
    // The pass that start() kicks off runs on an empty table; wait for it (and one more).
    await queue.reconcile();
    inspect = new IORedis(redis.url);
  });
  afterAll(async () => {
    inspect?.disconnect();
    await queue?.stop();
    await redis?.stop();
    await database?.close();
    await db?.cleanup();
  });

  test("QUEUED jobs missing from the queue and abandoned RUNNING jobs are queued under their own ids; live and queued ones are left alone", async () => {
    const prisma = database.prisma;
    const make = (status: string, heartbeatAt: Date | null = null) => prisma.job.create({ data: { kind: "MERGE", status, payload: {}, heartbeatAt } });
    const lost = [await make("QUEUED"), await make("QUEUED")];
    const alreadyQueued = await make("QUEUED");
    await queue.add(alreadyQueued.id);
    // A job the queue gave up on (its attempts ran out, in BullMQ's failed set) while the
    // database still says QUEUED — as when a worker lost its database on every attempt.
    const gaveUp = await make("QUEUED");
    await queue.add(gaveUp.id);
    await inspect.lrem(`${prefix}:jobs:wait`, 0, gaveUp.id);
    await inspect.zadd(`${prefix}:jobs:failed`, Date.now(), gaveUp.id);
    await inspect.hset(`${prefix}:jobs:${gaveUp.id}`, "finishedOn", Date.now(), "failedReason", "the database was unreachable");
    const abandoned = await make("RUNNING", new Date(Date.now() - LOCK_MS - 60_000));
    const alive = await make("RUNNING", new Date());
    await make("SUCCEEDED");
    const inQueue = async (id: string) => (await inspect.exists(`${prefix}:jobs:${id}`)) === 1;
    expect(await inQueue(lost[0].id)).toBe(false);

    const first = await queue.reconcile();
    expect(first.enqueued.sort()).toEqual([...lost.map((j) => j.id), gaveUp.id].sort());
    expect(await inspect.zscore(`${prefix}:jobs:failed`, gaveUp.id)).toBeNull();
    expect(await inspect.lrange(`${prefix}:jobs:wait`, 0, -1)).toContain(gaveUp.id);
    expect(first.requeued).toEqual([abandoned.id]);
    for (const id of [...lost.map((j) => j.id), gaveUp.id, alreadyQueued.id, abandoned.id]) {
      expect(await inQueue(id)).toBe(true);
      // The queue entry carries the database id as its data too (what the worker runs).
      expect(JSON.parse((await inspect.hget(`${prefix}:jobs:${id}`, "data"))!)).toEqual({ jobId: id });
    }
    expect(await inQueue(alive.id)).toBe(false);
    expect((await prisma.job.findUniqueOrThrow({ where: { id: abandoned.id } })).status).toBe("QUEUED");
    expect((await prisma.job.findUniqueOrThrow({ where: { id: alive.id } })).status).toBe("RUNNING");

    // Everything is in line now: a second pass queues nothing.
    expect(await queue.reconcile()).toEqual({ enqueued: [], requeued: [] });
  });
});
