import { spawn, spawnSync, ChildProcess } from "node:child_process";
import { hostname } from "node:os";
import { createTestDatabase, databaseKinds, TestDatabase } from "./support/testDatabase";
import { openDatabase, type Database } from "../src/persistence/database";
import { EmbeddedJobRunner } from "../src/jobs/embeddedJobRunner";
import { JobEvents } from "../src/jobs/jobEvents";
import { pidScope } from "../src/jobs/processIdentity";
import { createLogger } from "../src/logging";

/*
 * Which RUNNING jobs a starting embedded runner queues again: those whose process is gone from
 * this host and PID namespace, and those whose heartbeat is older than the lock time — never a
 * live process's, nor one of another namespace's pids (that pid means another process there).
 * The runner has no slots (concurrency 0), so it only re-queues and runs nothing.
 */
describe.each(databaseKinds)("embedded runner start: what it takes over (%s)", (kind) => {
  let db: TestDatabase;
  let database: Database;
  let live: ChildProcess;
  let deadPid: number;

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    database = await openDatabase(db.url);
    live = spawn(process.execPath, ["-e", "setTimeout(() => {}, 600000)"], { stdio: "ignore" });
    deadPid = Number(spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" }).stdout.trim());
  });
  afterAll(async () => {
    live?.kill("SIGKILL");
    await database?.close();
    await db?.cleanup();
  });

  test("dead processes of this scope and stale heartbeats: re-queued; live processes and other namespaces: left alone", async () => {
    const fresh = new Date();
    const stale = new Date(Date.now() - 60_000);
    const job = (worker: string, heartbeatAt: Date) => database.prisma.job.create({ data: { kind: "MERGE", payload: {}, status: "RUNNING", attempts: 1, worker, heartbeatAt } });
    const jobs = {
      deadHere: await job(`${pidScope()}:${deadPid}`, fresh),
      liveHere: await job(`${pidScope()}:${live.pid}`, fresh),
      otherNamespace: await job(`${hostname()}.ns1:${deadPid}`, fresh),
      otherHost: await job(`elsewhere.example:${deadPid}`, fresh),
      staleElsewhere: await job(`elsewhere.example:${deadPid}`, stale),
      staleButLive: await job(`${pidScope()}:${live.pid}`, stale),
    };
    const noHandler = async () => {
      throw new Error("a runner without slots runs nothing");
    };
    const runner = new EmbeddedJobRunner(database.prisma, { MERGE: noHandler, EVALUATE: noHandler, MERGE_SEARCH: noHandler }, new JobEvents(), createLogger("silent"), { concurrency: 0, lockMs: 30_000 });
    await runner.start();
    await runner.stop();
    const rows = await database.prisma.job.findMany({ where: { id: { in: Object.values(jobs).map((j) => j.id) } } });
    const status = Object.fromEntries(Object.entries(jobs).map(([name, j]) => [name, rows.find((r) => r.id === j.id)!.status]));
    expect(status).toEqual({
      deadHere: "QUEUED",
      liveHere: "RUNNING",
      otherNamespace: "RUNNING",
      otherHost: "RUNNING",
      staleElsewhere: "QUEUED",
      // A process that stopped renewing for longer than the lock time has lost the job (a lease).
      staleButLive: "QUEUED",
    });
  });
});
