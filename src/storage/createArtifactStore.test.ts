import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { ConfigError } from "../config/config";
import { createArtifactStore, parseArtifactStoreConfig } from "./createArtifactStore";
import { FsArtifactStore } from "./fsArtifactStore";
import { S3ArtifactStore } from "./s3ArtifactStore";
import { startS3rver } from "./testing/s3TestServer";

// 20 GiB = 20 × 1024³ = 21,474,836,480 bytes.
const TWENTY_GIB = 21_474_836_480;

describe("parseArtifactStoreConfig", () => {
  test("default: a folder under the data dir", () => {
    expect(parseArtifactStoreConfig({}, "/var/lib/lm", "/srv")).toEqual({ kind: "fs", root: "/var/lib/lm/artifacts" });
  });

  test("a folder by path or file: URL, relative to the working directory", () => {
    expect(parseArtifactStoreConfig({ LAYERMERGE_ARTIFACTS: "blobs" }, "/d", "/srv")).toEqual({ kind: "fs", root: "/srv/blobs" });
    expect(parseArtifactStoreConfig({ LAYERMERGE_ARTIFACTS: "file:///mnt/nas/blobs" }, "/d", "/srv")).toEqual({ kind: "fs", root: "/mnt/nas/blobs" });
  });

  test("s3:// with an endpoint: path style by default, us-east-1, cache under the data dir", () => {
    expect(parseArtifactStoreConfig({ LAYERMERGE_ARTIFACTS: "s3://lab-models/layermerge/prod/", S3_ENDPOINT: "http://minio:9000" }, "/var/lib/lm")).toEqual({
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
    const config = parseArtifactStoreConfig({ LAYERMERGE_ARTIFACTS: "s3://lab-models", AWS_REGION: "eu-west-3", LAYERMERGE_CACHE_BYTES: "1000" }, "/d");
    expect(config).toMatchObject({ kind: "s3", bucket: "lab-models", prefix: "", endpoint: undefined, region: "eu-west-3", forcePathStyle: false, cacheBytes: 1000 });
    expect(parseArtifactStoreConfig({ LAYERMERGE_ARTIFACTS: "s3://lab-models", AWS_REGION: "eu-west-3", S3_REGION: "us-west-2" }, "/d")).toMatchObject({ region: "us-west-2" });
    expect(parseArtifactStoreConfig({ LAYERMERGE_ARTIFACTS: "s3://lab-models", S3_ENDPOINT: "https://s3.example.org", S3_FORCE_PATH_STYLE: "false" }, "/d")).toMatchObject({ forcePathStyle: false });
  });

  test.each([
    [{ LAYERMERGE_ARTIFACTS: "gs://bucket/x" }, /LAYERMERGE_ARTIFACTS must be s3:\/\/bucket\/prefix or a folder/],
    [{ LAYERMERGE_ARTIFACTS: "s3://Bad_Bucket/x" }, /LAYERMERGE_ARTIFACTS: "Bad_Bucket" is not a valid bucket name/],
    [{ LAYERMERGE_ARTIFACTS: "s3://ok-bucket", S3_ENDPOINT: "minio:9000" }, /S3_ENDPOINT must be an http\(s\) URL/],
    [{ LAYERMERGE_ARTIFACTS: "s3://ok-bucket", S3_FORCE_PATH_STYLE: "yes" }, /S3_FORCE_PATH_STYLE must be true or false/],
    [{ LAYERMERGE_ARTIFACTS: "s3://ok-bucket", LAYERMERGE_CACHE_BYTES: "20G" }, /LAYERMERGE_CACHE_BYTES must be a whole number of bytes/],
  ])("refuses %p", (env, message) => {
    expect(() => parseArtifactStoreConfig(env, "/d")).toThrow(ConfigError);
    expect(() => parseArtifactStoreConfig(env, "/d")).toThrow(message);
  });
});

describe("createArtifactStore", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-factory-"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test("the default is the folder store", () => {
    const store = createArtifactStore(parseArtifactStoreConfig({}, dir));
    expect(store).toBeInstanceOf(FsArtifactStore);
    expect(store.description).toBe(`file:${path.join(dir, "artifacts")}`);
  });

  test("s3:// builds an S3 store that works with credentials from the SDK's default chain (AWS_* variables)", async () => {
    const server = await startS3rver();
    const saved = new Map(Object.entries(process.env));
    try {
      await server.createBucket("lab-models");
      for (const name of ["AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"]) delete process.env[name];
      process.env.AWS_ACCESS_KEY_ID = server.accessKeyId;
      process.env.AWS_SECRET_ACCESS_KEY = server.secretAccessKey;
      const store = createArtifactStore(parseArtifactStoreConfig({ LAYERMERGE_ARTIFACTS: "s3://lab-models/lm", S3_ENDPOINT: server.endpoint }, dir));
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
