import { Worker } from "node:worker_threads";

/**
 * SQLite checkpoints off the event loop. By default the connection whose commit takes the WAL
 * past 1,000 pages (4 MB) copies the WAL into the database file and fsyncs it inside that
 * commit — with better-sqlite3, synchronously on the API's event loop: on a 140 MB database
 * here, every ~50th registration-sized commit (60 KB) stalled the process 12–56 ms, against
 * 0.2 ms for the others. This thread, with its own connection, runs a PASSIVE checkpoint
 * (it never waits for readers or writers) every `intervalMs`; the next commit after a complete
 * one starts the WAL over.
 *
 * The app's connection keeps an inline checkpoint as a backstop only (`INLINE_CHECKPOINT_PAGES`,
 * 16 MB): under writes without a pause, a background checkpoint always overlaps a commit, the WAL
 * is never started over, and it would grow without bound. The inline one then copies only what
 * this thread has not (1,000 back-to-back 60 KB commits: WAL ≤ 16.9 MB, commit p99 0.5 ms,
 * against 11 ms with SQLite's default alone). It gives way to a checkpoint of this thread's in
 * progress, so the WAL passes 16 MB for as long as that one lasts (~37 MB at most in the test,
 * with both cores busy elsewhere).
 */
export interface SqliteCheckpointer {
  /** A last checkpoint, then the thread ends. */
  stop(): Promise<void>;
}

export function startSqliteCheckpointer(file: string, intervalMs = 200): SqliteCheckpointer {
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, intervalMs, driver: require.resolve("better-sqlite3") } });
  // Never what keeps a process alive; errors are the checkpointer's alone (SQLite then grows the
  // WAL until the next start, when the first connection checkpoints it).
  worker.unref();
  worker.on("error", () => undefined);
  const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
  return {
    async stop() {
      // Kept alive while it finishes (an unreferenced thread's exit would not hold the loop).
      worker.ref();
      worker.postMessage("stop");
      await exited;
    },
  };
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const db = new Database(workerData.file, { timeout: 1000 });
db.pragma("wal_autocheckpoint = 0");
// With nothing new in the WAL a PASSIVE checkpoint copies and syncs nothing: it reads the WAL
// index and returns. (Watching the WAL file's size and mtime instead missed commits that fell
// in the same coarse mtime tick.)
const checkpoint = () => db.pragma("wal_checkpoint(PASSIVE)");
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on("message", () => {
  clearInterval(timer);
  try {
    checkpoint();
  } finally {
    db.close();
    parentPort.close();
  }
});
`;
