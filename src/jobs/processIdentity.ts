import { readlinkSync } from "node:fs";
import { hostname } from "node:os";

let scope: string | undefined;

/**
 * Where a pid names one process: this host, and on Linux this PID namespace. Containers sharing
 * a host name (host networking) each have their own pids; a process may judge another dead by
 * its pid only when both share this scope. The host name, then `.ns<inode of /proc/self/ns/pid>`
 * where the system shows it.
 */
export function pidScope(): string {
  if (scope === undefined) {
    let namespace = "";
    try {
      const inode = /\[(\d+)\]/.exec(readlinkSync("/proc/self/ns/pid"));
      if (inode) namespace = `.ns${inode[1]}`;
    } catch {
      // No /proc (not Linux): the host name alone.
    }
    scope = `${hostname()}${namespace}`;
  }
  return scope;
}

/** This process's name in a job's `worker` column when the embedded runner runs it: scope and pid. */
export function workerName(): string {
  return `${pidScope()}:${process.pid}`;
}

/** This process's name in a job's `worker` column when a BullMQ worker runs it: host name and pid. */
export function queueWorkerName(): string {
  return `${hostname()}:${process.pid}`;
}

/** "scope:pid" → [scope, pid]; the scope may itself hold colons. */
export function splitWorker(worker: string): [string, number | null] {
  const at = worker.lastIndexOf(":");
  if (at < 0) return [worker, null];
  const pid = Number(worker.slice(at + 1));
  return [worker.slice(0, at), Number.isInteger(pid) && pid > 0 ? pid : null];
}

/** Whether a process with this pid exists in this scope (EPERM: it exists, owned by someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
