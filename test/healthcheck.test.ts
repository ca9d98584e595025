import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import IORedis from "ioredis";
import { parse } from "yaml";
import { ensureBuilt, RunningProcess, startLayermerge } from "./support/processes";

/*
 * One image runs the API and the workers, so its HEALTHCHECK must pass for both: the command is
 * read from the Dockerfile (and docker-compose.yml) and run for real, as Docker would inside the
 * container, against a real `layermerge serve` and a real `layermerge worker`.
 */
const ROOT = path.resolve(__dirname, "..");
const dockerfile = fs.readFileSync(path.join(ROOT, "Dockerfile"), "utf8");
const compose = parse(fs.readFileSync(path.join(ROOT, "docker-compose.yml"), "utf8"), { merge: true }) as { services: Record<string, any> };

/** The Dockerfile's HEALTHCHECK command as argv (exec form) or through the shell (shell form). */
function imageHealthcheck(): string[] {
  const match = /^HEALTHCHECK\b.*?\bCMD\s+(.+)$/m.exec(dockerfile);
  if (!match) throw new Error("the Dockerfile has no HEALTHCHECK");
  const command = match[1]!.trim();
  return command.startsWith("[") ? (JSON.parse(command) as string[]) : ["/bin/sh", "-c", command];
}

/** A compose healthcheck `test` ("CMD", "CMD-SHELL" or a string) as argv. */
function composeHealthcheck(service: string): string[] {
  const test = compose.services[service].healthcheck.test as string[] | string;
  if (typeof test === "string") return ["/bin/sh", "-c", test];
  if (test[0] === "CMD-SHELL") return ["/bin/sh", "-c", test[1]!];
  if (test[0] === "CMD") return test.slice(1);
  throw new Error(`unexpected healthcheck ${JSON.stringify(test)}`);
}

/** Runs a health check command in the repository (the image's WORKDIR has the same layout); its exit code. */
function check(argv: string[], env: Record<string, string>): Promise<number | null> {
  const [file, ...args] = argv;
  const { PORT: _port, LAYERMERGE_METRICS_PORT: _metrics, ...rest } = process.env;
  return new Promise((resolve) => {
    const child = spawn(file === "node" ? process.execPath : file!, args, { cwd: ROOT, env: { ...rest, ...env }, stdio: "ignore" });
    child.on("exit", (code) => resolve(code));
  });
}

/** A loopback port nothing listens on (taken and released). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function answering(status: number): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((_req, res) => {
    res.statusCode = status;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  return { port: (server.address() as net.AddressInfo).port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe("container health checks", () => {
  jest.setTimeout(60_000);
  const processes: RunningProcess[] = [];
  const dirs: string[] = [];
  beforeAll(() => ensureBuilt());
  afterAll(async () => {
    for (const p of processes) await p.kill("SIGKILL");
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });
  const scratch = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-health-"));
    dirs.push(dir);
    return dir;
  };

  test("nothing listening, or an API answering 503: unhealthy (a worker's port does not mask the API's answer)", async () => {
    const [port, metrics] = [await freePort(), await freePort()];
    expect(await check(imageHealthcheck(), { PORT: String(port), LAYERMERGE_METRICS_PORT: String(metrics) })).toBe(1);
    const api = await answering(503);
    const worker = await answering(200);
    try {
      expect(await check(imageHealthcheck(), { PORT: String(api.port), LAYERMERGE_METRICS_PORT: String(worker.port) })).toBe(1);
    } finally {
      await api.close();
      await worker.close();
    }
  });

  test("the API container: a real `layermerge serve` is healthy, and unhealthy once stopped", async () => {
    const port = await freePort();
    const env = { PORT: String(port), LAYERMERGE_METRICS_PORT: String(await freePort()) };
    const api = startLayermerge(["serve"], { ...env, HOST: "127.0.0.1", LAYERMERGE_DATA_DIR: scratch(), DATABASE_URL: "", REDIS_URL: "" });
    processes.push(api);
    await api.waitFor(/serving GraphQL at/);
    expect(await check(imageHealthcheck(), env)).toBe(0);
    expect(await check(composeHealthcheck("api"), env)).toBe(0);
    await api.kill();
    expect(await check(imageHealthcheck(), env)).toBe(1);
  });

  const redisUrl = process.env.REDIS_URL;
  (redisUrl ? test : test.skip)("a worker container (no API, its /healthz on LAYERMERGE_METRICS_PORT): a real `layermerge worker` is healthy", async () => {
    const prefix = `lmhealth-${randomBytes(4).toString("hex")}`;
    const dir = scratch();
    const env = { PORT: String(await freePort()), LAYERMERGE_METRICS_PORT: String(await freePort()) };
    try {
      const worker = startLayermerge(["worker"], { ...env, HOST: "127.0.0.1", LAYERMERGE_DATA_DIR: dir, DATABASE_URL: `file:${path.join(dir, "layermerge.db")}`, REDIS_URL: redisUrl!, LAYERMERGE_QUEUE_PREFIX: prefix });
      processes.push(worker);
      await worker.waitFor(/running jobs from/);
      expect(await check(imageHealthcheck(), env)).toBe(0);
      expect(await check(composeHealthcheck("worker"), env)).toBe(0);
      await worker.kill();
      expect(await check(imageHealthcheck(), env)).toBe(1);
    } finally {
      const redis = new IORedis(redisUrl!);
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    }
  });
});
