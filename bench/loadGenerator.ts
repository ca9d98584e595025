/**
 * autocannon in a child process of its own, so the load generator never shares the bench
 * process's event loop (which times the jobs and polls their state) nor the server's CPU
 * accounting. This file is both sides: `load` forks it; run as a child it drives autocannon with
 * the request it receives on IPC, stops early when told, and sends the summary back.
 */
import { fork } from "node:child_process";
import * as path from "node:path";
import autocannon from "autocannon";

export interface LoadRequest {
  url: string;
  body: string;
  /** Headers besides content-type (e.g. Cache-Control: no-cache). */
  headers?: Record<string, string>;
  connections: number;
  seconds: number;
}

/** The figures of one run (autocannon's names, so a caller reads it as autocannon's result). */
export interface LoadSummary {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  errors: number;
  non2xx: number;
  timeouts: number;
}

type FromChild = { summary: LoadSummary } | { error: string };
type ToChild = { start: LoadRequest } | { stop: true };

/** POSTs `body` to `url` from `connections` connections for `seconds` (or until `stop`), in a child process. */
export function load(request: LoadRequest): { done: Promise<LoadSummary>; stop(): void; pid: number } {
  const child = fork(__filename, [], { execArgv: ["-r", path.resolve(__dirname, "../scripts/ts-hook.js")], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const done = new Promise<LoadSummary>((resolve, reject) => {
    let answered = false;
    child.on("message", (message: FromChild) => {
      answered = true;
      if ("summary" in message) resolve(message.summary);
      else reject(new Error(`load generator: ${message.error}`));
    });
    child.on("exit", (code) => {
      if (!answered) reject(new Error(`load generator exited with ${code} before answering`));
    });
  });
  child.send({ start: request } satisfies ToChild);
  return { done, stop: () => child.connected && child.send({ stop: true } satisfies ToChild), pid: child.pid! };
}

function drive(request: LoadRequest, onInstance: (instance: autocannon.Instance) => void): Promise<LoadSummary> {
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      { url: request.url, method: "POST", headers: { "content-type": "application/json", ...request.headers }, body: request.body, connections: request.connections, duration: request.seconds },
      (error, r) => {
        if (error) return reject(error);
        resolve({
          requests: { average: r.requests.average, total: r.requests.total },
          latency: { p50: r.latency.p50, p99: r.latency.p99 },
          errors: r.errors,
          non2xx: r.non2xx,
          timeouts: r.timeouts,
        });
      },
    );
    onInstance(instance);
  });
}

if (require.main === module) {
  let instance: autocannon.Instance | undefined;
  let stopAsked = false;
  process.on("message", (message: ToChild) => {
    if ("stop" in message) {
      stopAsked = true;
      instance?.stop();
      return;
    }
    drive(message.start, (i) => {
      instance = i;
      if (stopAsked) i.stop();
    }).then(
      (summary) => process.send!({ summary } satisfies FromChild, () => process.exit(0)),
      (error: Error) => process.send!({ error: error.message } satisfies FromChild, () => process.exit(1)),
    );
  });
  // The bench went away: so does its load.
  process.on("disconnect", () => process.exit(0));
}
