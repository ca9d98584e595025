import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { ConfigError } from "../config/config";
import { createArtifactStore, resolveArtifactStoreConfig } from "./createArtifactStore";
import { loadConfig } from "../config/config";
import { FsArtifactStore } from "./fsArtifactStore";
import { S3ArtifactStore } from "./s3ArtifactStore";
import { startS3rver } from "./testing/s3TestServer";

// 20 GiB = 20 × 1024³ = 21,474,836,480 bytes.
const TWENTY_GIB = 21_474_836_480;

describe("resolveArtifactStoreConfig", () => {
  const resolve = (artifacts: string, env: NodeJS.ProcessEnv = {}, dataDir = "/var/lib/lm") => resolveArtifactStoreConfig({ artifacts, dataDir }, env);

  test("a folder: as loadConfig gives it, as a file: URL, or the data dir's default when empty", () => {
    expect(resolve("/var/lib/lm/artifacts")).toEqual({ kind: "fs", root: "/var/lib/lm/artifacts" });
    expect(resolve("file:///mnt/nas/blobs")).toEqual({ kind: "fs", root: "/mnt/nas/blobs" });
    expect(resolve("")).toEqual({ kind: "fs", root: "/var/lib/lm/artifacts" });
  });

  test("s3:// with an endpoint: path style by default, us-east-1, cache under the data dir", () => {
    expect(resolve("s3://lab-models/layermerge/prod/", { S3_ENDPOINT: "http://minio:9000" })).toEqual({
      kind: "s3",
      bucket: "lab-models",
      prefix: "layermerge/prod",
      endpoint: "http://minio:9000",
      region: "us-east-1",
      forcePathStyle: true,
      cacheDir: "/var/lib/lm/cache/artifacts",
      cacheBytes: TWENTY_GIB,
    });
  });

  test("s3:// on AWS: virtual-hosted style, region and cache bound from the environment", () => {
    expect(resolve("s3://lab-models", { AWS_REGION: "eu-west-3", LAYERMERGE_CACHE_BYTES: "1000" })).toMatchObject({
      kind: "s3", bucket: "lab-models", prefix: "", endpoint: undefined, region: "eu-west-3", forcePathStyle: false, cacheBytes: 1000,
    });
    expect(resolve("s3://lab-models", { AWS_REGION: "eu-west-3", S3_REGION: "us-west-2" })).toMatchObject({ region: "us-west-2" });
    expect(resolve("s3://lab-models", { S3_ENDPOINT: "https://s3.example.org", S3_FORCE_PATH_STYLE: "false" })).toMatchObject({ forcePathStyle: false });
  });

  test.each([
    ["gs://bucket/x", {}, /LAYERMERGE_ARTIFACTS must be s3:\/\/bucket\/prefix or a folder/],
    ["s3://Bad_Bucket/x", {}, /LAYERMERGE_ARTIFACTS: "Bad_Bucket" is not a valid bucket name/],
    ["s3://ok-bucket", { S3_ENDPOINT: "minio:9000" }, /S3_ENDPOINT must be an http\(s\) URL/],
    ["s3://ok-bucket", { S3_FORCE_PATH_STYLE: "yes" }, /S3_FORCE_PATH_STYLE must be true or false/],
    ["s3://ok-bucket", { LAYERMERGE_CACHE_BYTES: "20G" }, /LAYERMERGE_CACHE_BYTES must be a whole number of bytes/],
  ])("refuses %s with %p", (artifacts, env, message) => {
    expect(() => resolve(artifacts, env)).toThrow(ConfigError);
    expect(() => resolve(artifacts, env)).toThrow(message);
  });
});

describe("createArtifactStore", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-factory-"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test("the default is the folder store (from loadConfig's Config)", () => {
    const store = createArtifactStore(loadConfig({ LAYERMERGE_DATA_DIR: dir }));
    expect(store).toBeInstanceOf(FsArtifactStore);
    expect(store.description).toBe(`file:${path.join(dir, "artifacts")}`);
  });

  test("LAYERMERGE_ARTIFACTS=s3:// builds an S3 store: S3_ENDPOINT from the environment, credentials from the SDK's default chain", async () => {
    const server = await startS3rver();
    const saved = new Map(Object.entries(process.env));
    try {
      await server.createBucket("lab-models");
      for (const name of ["AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "S3_REGION", "S3_FORCE_PATH_STYLE"]) delete process.env[name];
      process.env.AWS_ACCESS_KEY_ID = server.accessKeyId;
      process.env.AWS_SECRET_ACCESS_KEY = server.secretAccessKey;
      process.env.S3_ENDPOINT = server.endpoint;
      const store = createArtifactStore(loadConfig({ LAYERMERGE_DATA_DIR: dir, LAYERMERGE_ARTIFACTS: "s3://lab-models/lm" }));
      expect(store).toBeInstanceOf(S3ArtifactStore);
      expect(store.description).toBe(`s3://lab-models/lm at ${server.endpoint}`);
      try {
        await store.check();
        const bytes = Buffer.from("stored through the factory");
        const blob = await store.put(Readable.from([bytes]));
        const expected = createHash("sha256").update(bytes).digest("hex");
        expect(blob).toEqual({ sha256: expected, sizeBytes: bytes.length, created: true });
        expect(await server.listKeys("lab-models")).toEqual([`lm/sha256/${expected.slice(0, 2)}/${expected.slice(2, 4)}/${expected}`]);
        const local = await store.localPath(expected);
        expect(local.path).toBe(path.join(dir, "cache", "artifacts", expected));
        await local.release();
      } finally {
        (store as S3ArtifactStore).close();
      }
    } finally {
      for (const name of Object.keys(process.env)) if (!saved.has(name)) delete process.env[name];
      for (const [name, value] of saved) process.env[name] = value;
      await server.close();
    }
  });
});
