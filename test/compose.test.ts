import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { exposure, loadConfig } from "../src/config/config";
import { JOB_ALLOCATOR_TUNABLES } from "../src/config/allocatorTuning";

/*
 * No Docker engine runs here, so the compose file is checked by reading it: every service the
 * app expects is there, every variable a process needs is set and agrees with the service that
 * answers it, and the configuration each container gets is one the app accepts.
 */
const ROOT = path.resolve(__dirname, "..");
const compose = parse(fs.readFileSync(path.join(ROOT, "docker-compose.yml"), "utf8"), { merge: true }) as {
  services: Record<string, any>;
  volumes: Record<string, unknown>;
};

const envOf = (name: string): Record<string, string> => compose.services[name].environment;

describe("docker-compose.yml", () => {
  test("has PostgreSQL, Redis, MinIO, the API and two workers, each with a health check", () => {
    for (const s of ["postgres", "redis", "minio", "api", "worker"]) {
      expect(compose.services[s]).toBeDefined();
      expect(compose.services[s].healthcheck?.test).toBeDefined();
    }
    expect(compose.services.worker.deploy.replicas).toBe(2);
    expect(compose.services.worker.command).toEqual(["node", "bin/layermerge.js", "worker"]);
    expect(compose.services.api.command).toEqual(["node", "bin/layermerge.js", "serve"]);
    expect(compose.services.api.ports).toContain("4000:4000");
    // Workers run jobs with the job processes' allocator settings (as `serve` starts its runner).
    expect(envOf("worker").GLIBC_TUNABLES).toBe(JOB_ALLOCATOR_TUNABLES);
  });

  test("API and workers get a configuration the app accepts, pointing at the services in the file", () => {
    for (const s of ["api", "worker"]) {
      const env = envOf(s);
      for (const key of ["DATABASE_URL", "REDIS_URL", "LAYERMERGE_ARTIFACTS", "S3_ENDPOINT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "LAYERMERGE_DATA_DIR"]) {
        expect({ service: s, key, set: Boolean(env[key]) }).toEqual({ service: s, key, set: true });
      }
      const config = loadConfig(env, "/app");
      expect(config.databaseProvider).toBe("postgres");
      expect(config.redisUrl).toBe("redis://redis:6379");
      expect(config.artifacts.startsWith("s3://")).toBe(true);
      expect(compose.services[new URL(env.DATABASE_URL).hostname]).toBeDefined();
      expect(compose.services[new URL(env.REDIS_URL).hostname]).toBeDefined();
      expect(compose.services[new URL(env.S3_ENDPOINT).hostname]).toBeDefined();
      // Volumes the service mounts are declared.
      for (const v of compose.services[s].volumes ?? []) {
        const source = String(v).split(":")[0]!;
        if (String(v).includes(":") && !/^[/.~]/.test(source)) expect(compose.volumes).toHaveProperty(source);
      }
    }
    const api = envOf("api");
    expect(loadConfig(api, "/app").host).toBe("0.0.0.0");
  });

  test("credentials and names agree between the app and the services", () => {
    const api = envOf("api");
    const pg = envOf("postgres");
    const url = new URL(api.DATABASE_URL);
    expect([decodeURIComponent(url.username), decodeURIComponent(url.password), url.pathname.slice(1)]).toEqual([pg.POSTGRES_USER, pg.POSTGRES_PASSWORD, pg.POSTGRES_DB]);
    const minio = envOf("minio");
    expect([api.AWS_ACCESS_KEY_ID, api.AWS_SECRET_ACCESS_KEY]).toEqual([minio.MINIO_ROOT_USER, minio.MINIO_ROOT_PASSWORD]);
    const bucket = new URL(api.LAYERMERGE_ARTIFACTS).hostname;
    expect(compose.services["minio-setup"].entrypoint.join(" ")).toContain(`local/${bucket}`);
    // Workers and the API share the queue prefix, so they see the same queues.
    expect(envOf("worker").LAYERMERGE_QUEUE_PREFIX).toBe(api.LAYERMERGE_QUEUE_PREFIX);
  });

  test("long-running services restart unless stopped; the one-shot bucket setup does not loop", () => {
    for (const [name, service] of Object.entries(compose.services)) {
      const expected = name === "minio-setup" ? "on-failure" : "unless-stopped";
      expect({ name, restart: service.restart }).toEqual({ name, restart: expected });
    }
  });

  test("MinIO images are pinned to a release, not a moving tag", () => {
    for (const name of ["minio", "minio-setup"]) {
      const image = String(compose.services[name].image);
      expect({ name, image, pinned: /^(quay\.io\/)?minio\/(minio|mc):RELEASE\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ$/.test(image) }).toEqual({ name, image, pinned: true });
    }
  });

  /** The service's mount holding `target` (the longest mount path that contains it): source ("" when anonymous). */
  const mountOf = (service: string, target: string): string | undefined => {
    const mounts = (compose.services[service].volumes ?? []).map((v: unknown) => {
      const parts = String(v).split(":");
      return parts.length === 1 ? { source: "", at: parts[0]! } : { source: parts[0]!, at: parts[1]! };
    });
    const holding = mounts.filter((m: { at: string }) => target === m.at || target.startsWith(m.at.endsWith("/") ? m.at : `${m.at}/`));
    holding.sort((a: { at: string }, b: { at: string }) => b.at.length - a.at.length);
    return holding[0]?.source;
  };

  test("workers do not share a download cache: each replica's cache folder is on a volume of its own", () => {
    const worker = compose.services.worker;
    expect(worker.deploy.replicas).toBeGreaterThan(1);
    const cacheDir = path.posix.join(envOf("worker").LAYERMERGE_DATA_DIR, "cache", "artifacts");
    // Anonymous (one per container), not a named volume or a host folder every replica would share.
    expect(mountOf("worker", cacheDir)).toBe("");
  });

  test("dataset roots are mounted at the same place, from the same source, in the API and the workers", () => {
    const api = loadConfig(envOf("api"), "/app");
    const worker = loadConfig(envOf("worker"), "/app");
    expect(worker.datasetRoots).toEqual(api.datasetRoots);
    for (const root of api.datasetRoots) {
      const source = mountOf("api", root);
      expect({ root, source: Boolean(source) }).toEqual({ root, source: true });
      expect({ root, worker: mountOf("worker", root) }).toEqual({ root, worker: source });
    }
  });

  test("the API is not open: its configuration is accepted by the exposure rule, and the image defaults to auth writes", () => {
    const dockerfile = fs.readFileSync(path.join(ROOT, "Dockerfile"), "utf8");
    const imageEnv = Object.fromEntries([...dockerfile.matchAll(/^ENV (.+)$/gm)].flatMap((m) => m[1]!.split(/\s+/).map((kv) => kv.split("=") as [string, string])));
    expect(imageEnv.LAYERMERGE_AUTH).toBe("writes");
    // What each container gets: the image's environment, then the service's.
    for (const s of ["api", "worker"]) expect({ s, ...exposure(loadConfig({ ...imageEnv, ...envOf(s) }, "/app")) }).toEqual({ s });
    expect(loadConfig({ ...imageEnv, ...envOf("api") }, "/app").auth).not.toBe("off");
    // The image's own defaults (HOST=0.0.0.0) start: not refused for auth off.
    expect(exposure(loadConfig(imageEnv, "/app"))).toEqual({});
    // A worker's health endpoint: the port the health check falls back to is set for workers.
    expect(imageEnv.LAYERMERGE_METRICS_PORT ?? envOf("worker").LAYERMERGE_METRICS_PORT).toMatch(/^\d+$/);
  });

  test(".dockerignore keeps dependencies, build outputs, local data, secrets and git out of the build context", () => {
    const ignored = fs.readFileSync(path.join(ROOT, ".dockerignore"), "utf8").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
    for (const entry of ["node_modules", "dist", "data", ".git", ".env"]) {
      expect({ entry, ignored: ignored.some((l) => l === entry || l === `**/${entry}` || l === `${entry}/` || l === `/${entry}`) }).toEqual({ entry, ignored: true });
    }
    // Nothing the Dockerfile copies into the build stage is ignored.
    const dockerfile = fs.readFileSync(path.join(ROOT, "Dockerfile"), "utf8");
    const copied = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(/\s+/));
    for (const source of copied) expect({ source, ignored: ignored.includes(source) }).toEqual({ source, ignored: false });
  });

  test("the Dockerfile is multi-stage, runs as a non-root user, and ships the migrations and the dashboard", () => {
    const dockerfile = fs.readFileSync(path.join(ROOT, "Dockerfile"), "utf8");
    expect(dockerfile.match(/^FROM /gm)!.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toContain("COPY --from=build /app/prisma/migrations");
    expect(dockerfile).toContain("COPY --from=build /app/web/dist");
    expect(dockerfile).toContain("ONNXRUNTIME_NODE_INSTALL=skip");
  });
});
