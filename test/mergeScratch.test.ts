import * as fs from "node:fs";
import * as path from "node:path";
import { hostname } from "node:os";
import { spawn, spawnSync, ChildProcess } from "node:child_process";
import { createTestDatabase, databaseKinds, TestDatabase } from "./support/testDatabase";
import { openDatabase, type Database } from "../src/persistence/database";
import { MergeScratch, parseScratchName, scratchHost } from "../src/services/mergeScratch";
import { pidScope } from "../src/jobs/processIdentity";

/*
 * Which merge scratch folders a process may remove: only its own host's, and of those only the
 * ones whose process is gone or whose attempt is over. Real processes stand for the runs: one
 * that has exited (a dead pid) and one that is alive.
 */
describe.each(databaseKinds)("merge scratch folders (%s)", (kind) => {
  let db: TestDatabase;
  let database: Database;
  let live: ChildProcess;
  let deadPid: number;
  const host = scratchHost();
  // The folder's host is the host name and, on Linux, the PID namespace (containers may share a host name).
  test("the scratch host is this host's name and PID namespace", () => {
    const ns = fs.readlinkSync("/proc/self/ns/pid").replace(/^pid:\[(\d+)\]$/, "$1");
    expect(host).toBe(`${hostname()}.ns${ns}`.replace(/[^A-Za-z0-9.-]/g, "_"));
  });

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    database = await openDatabase(db.url);
    live = spawn(process.execPath, ["-e", "setTimeout(() => {}, 600000)"], { stdio: "ignore" });
    // A process that printed its pid and exited.
    deadPid = Number(spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" }).stdout.trim());
  });
  afterAll(async () => {
    live?.kill("SIGKILL");
    await database?.close();
    await db?.cleanup();
  });

  const job = (data: { status: string; attempts: number; worker: string | null }) => database.prisma.job.create({ data: { kind: "MERGE", payload: {}, ...data } });
  const folder = (dir: string, name: string) => {
    fs.mkdirSync(path.join(dir, name), { recursive: true });
    fs.writeFileSync(path.join(dir, name, "merged.safetensors"), Buffer.alloc(1024, 7));
    return name;
  };

  test("names carry host, pid, job and attempt, and parse back (hosts may hold dashes)", async () => {
    const dir = path.join(db.dataDir, "names");
    const scratch = new MergeScratch(database.prisma, dir);
    const made = await scratch.create("cjobid123", 3);
    expect(path.basename(made)).toBe(`merge-${host}-${process.pid}-cjobid123-3`);
    expect(fs.readdirSync(made)).toEqual([]);
    expect(parseScratchName("merge-web-eu-1-4242-cabc-7")).toEqual({ name: "merge-web-eu-1-4242-cabc-7", host: "web-eu-1", pid: 4242, jobId: "cabc", attempt: 7 });
    expect(parseScratchName("merge-Xy12Ab")).toBeNull();
  });

  test("sweep removes dead runs of this host and keeps live runs and other hosts' folders", async () => {
    const dir = path.join(db.dataDir, "sweep");
    const scratch = new MergeScratch(database.prisma, dir);
    const running = await job({ status: "RUNNING", attempts: 2, worker: `${pidScope()}:${live.pid}` });
    const requeued = await job({ status: "QUEUED", attempts: 1, worker: `${pidScope()}:${live.pid}` });
    const finished = await job({ status: "SUCCEEDED", attempts: 1, worker: `${pidScope()}:${live.pid}` });
    const expected = {
      // A live process's current run: kept.
      liveRun: folder(dir, `merge-${host}-${live.pid}-${running.id}-2`),
      // The same live process's earlier attempt of that job: over.
      earlierAttempt: folder(dir, `merge-${host}-${live.pid}-${running.id}-1`),
      // A live process whose job went back to the queue or ended: over.
      requeued: folder(dir, `merge-${host}-${live.pid}-${requeued.id}-1`),
      finished: folder(dir, `merge-${host}-${live.pid}-${finished.id}-1`),
      // A process that is gone: removed whatever its job's row says.
      dead: folder(dir, `merge-${host}-${deadPid}-${running.id}-2`),
      // Another host's folders and anything not named like a run: never touched.
      otherHost: folder(dir, `merge-not-${host}-${deadPid}-${running.id}-1`),
      // The same host name in another PID namespace (a container with host networking): its pids are not ours.
      otherNamespace: folder(dir, `merge-${hostname().replace(/[^A-Za-z0-9.-]/g, "_")}.ns1-${deadPid}-${running.id}-1`),
      unrelated: folder(dir, "merge-Xy12Ab"),
    };
    const removed = await scratch.sweep();
    expect(removed.sort()).toEqual([expected.earlierAttempt, expected.requeued, expected.finished, expected.dead].sort());
    expect(fs.readdirSync(dir).sort()).toEqual([expected.liveRun, expected.otherHost, expected.otherNamespace, expected.unrelated].sort());
  });

  test("a job's own sweep (when it is taken over) touches only that job's folders", async () => {
    const dir = path.join(db.dataDir, "takeover");
    const scratch = new MergeScratch(database.prisma, dir);
    const mine = await job({ status: "RUNNING", attempts: 2, worker: `${pidScope()}:${process.pid}` });
    const other = await job({ status: "RUNNING", attempts: 1, worker: `${pidScope()}:${deadPid}` });
    const previous = folder(dir, `merge-${host}-${deadPid}-${mine.id}-1`);
    const untouched = folder(dir, `merge-${host}-${deadPid}-${other.id}-1`);
    expect(await scratch.sweep(mine.id)).toEqual([previous]);
    expect(fs.readdirSync(dir)).toEqual([untouched]);
  });
});
