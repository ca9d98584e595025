import { spawn, ChildProcess, execFileSync } from "node:child_process";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..", "..");
const BIN = path.join(ROOT, "bin", "layermerge.js");

/** The process tests run the compiled CLI; rebuild it first if the sources are newer. */
export function ensureBuilt(): void {
  execFileSync(process.execPath, [path.join(ROOT, "scripts", "build-if-stale.js")], { cwd: ROOT, stdio: "inherit" });
}

export interface RunningProcess {
  child: ChildProcess;
  output(): string;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts `layermerge <args>` as a real process with the given environment. */
export function startLayermerge(args: string[], env: Record<string, string>): RunningProcess {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, LOG_LEVEL: "warn", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const waiters: Array<() => void> = [];
  const append = (chunk: Buffer) => {
    output += chunk.toString();
    waiters.splice(0).forEach((w) => w());
  };
  child.stdout!.on("data", append);
  child.stderr!.on("data", append);
  let exited = false;
  child.on("exit", () => {
    exited = true;
    waiters.splice(0).forEach((w) => w());
  });
  return {
    child,
    output: () => output,
    async waitFor(pattern, timeoutMs = 30_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const match = output.match(pattern);
        if (match) return match;
        if (exited) throw new Error(`process exited before printing ${pattern}:\n${output}`);
        if (Date.now() > until) throw new Error(`timed out waiting for ${pattern}:\n${output}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 200);
        });
      }
    },
    async kill(signal = "SIGTERM") {
      if (exited) return;
      const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill(signal);
      await gone;
    },
  };
}
