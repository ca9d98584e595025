import { spawn, ChildProcess } from "node:child_process";

/**
 * A redis-server of the test's own on a loopback port, without persistence: stopping it and
 * starting it again gives an empty Redis, as a Redis that lost its data. Stopped by its PID.
 */
export interface OwnRedis {
  url: string;
  port: number;
  start(): Promise<void>;
  /** SIGKILL: the data is gone, clients see their connections drop. */
  stop(): Promise<void>;
}

export function ownRedis(port: number): OwnRedis {
  let child: ChildProcess | null = null;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async start() {
      if (child) throw new Error(`redis-server on ${port} is already running`);
      const proc = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: ["ignore", "pipe", "pipe"] });
      child = proc;
      let output = "";
      await new Promise<void>((resolve, reject) => {
        proc.stdout!.on("data", (chunk: Buffer) => {
          output += chunk.toString();
          if (output.includes("Ready to accept connections")) resolve();
        });
        proc.once("exit", (code) => reject(new Error(`redis-server on ${port} exited (${code}):\n${output}`)));
        proc.once("error", reject);
      });
    },
    async stop() {
      const proc = child;
      if (!proc) return;
      child = null;
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        proc.once("exit", () => resolve());
        process.kill(proc.pid!, "SIGKILL");
      });
    },
  };
}

/** Whether the redis-server binary is installed (the outage tests skip without it). */
export function haveRedisServer(): boolean {
  try {
    require("node:child_process").execFileSync("redis-server", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
