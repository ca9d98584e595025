import * as path from "node:path";
import { S3Client } from "@aws-sdk/client-s3";
import { ConfigError } from "../config/config";
import type { Config } from "../config/config";
import type { ArtifactStore } from "./artifactStore";
import { FsArtifactStore } from "./fsArtifactStore";
import { S3ArtifactStore } from "./s3ArtifactStore";

export type ArtifactStoreConfig =
  | { kind: "fs"; root: string }
  | {
      kind: "s3";
      bucket: string;
      /** Without leading or trailing slash; "" for the bucket's root. */
      prefix: string;
      /** S3_ENDPOINT; undefined for AWS itself. */
      endpoint?: string;
      region: string;
      forcePathStyle: boolean;
      cacheDir: string;
      cacheBytes: number;
    };

/** What the factory needs of the application's Config (`loadConfig`). */
export type ArtifactStoreSettings = Pick<Config, "artifacts" | "dataDir">;

/**
 * Resolves the artifact store's settings; throws ConfigError naming the variable at fault.
 *
 * - `settings.artifacts` (LAYERMERGE_ARTIFACTS): `s3://bucket/prefix` for object storage, else a
 *   folder (a path, or a `file:` URL); loadConfig defaults it to `<dataDir>/artifacts`.
 * - `S3_ENDPOINT` (http/https URL; unset for AWS), `S3_REGION` (else `AWS_REGION`, else
 *   us-east-1), `S3_FORCE_PATH_STYLE` (true/false; default true when S3_ENDPOINT is set, since
 *   MinIO and other self-hosted servers rarely resolve bucket subdomains).
 * - `LAYERMERGE_CACHE_BYTES`: bound on `<dataDir>/cache/artifacts`, where remote blobs are
 *   downloaded for parsing and merging; default 20 GiB.
 * Credentials are not read here: the AWS SDK's default chain finds them (AWS_ACCESS_KEY_ID /
 * AWS_SECRET_ACCESS_KEY, AWS_PROFILE, web identity, instance roles).
 */
export function resolveArtifactStoreConfig(settings: ArtifactStoreSettings, env: NodeJS.ProcessEnv = process.env): ArtifactStoreConfig {
  const location = settings.artifacts.trim();
  if (!location) return { kind: "fs", root: path.join(settings.dataDir, "artifacts") };
  if (location.startsWith("file:")) return { kind: "fs", root: path.resolve(decodeURIComponent(location.replace(/^file:(\/\/)?/, ""))) };
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) return { kind: "fs", root: path.resolve(location) };

  const match = /^s3:\/\/([^/]+)\/*(.*)$/.exec(location);
  if (!match) throw new ConfigError(`LAYERMERGE_ARTIFACTS must be s3://bucket/prefix or a folder (got ${JSON.stringify(location)})`);
  const [, bucket, rest] = match;
  // S3's bucket naming rules (3–63 characters, lowercase letters, digits, dots and hyphens).
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new ConfigError(`LAYERMERGE_ARTIFACTS: ${JSON.stringify(bucket)} is not a valid bucket name (3–63 lowercase letters, digits, dots, hyphens)`);
  }
  const prefix = rest.replace(/\/+$/, "");

  const endpoint = env.S3_ENDPOINT?.trim() || undefined;
  if (endpoint) {
    let url: URL | undefined;
    try {
      url = new URL(endpoint);
    } catch {
      url = undefined;
    }
    if (!url || !["http:", "https:"].includes(url.protocol)) {
      throw new ConfigError(`S3_ENDPOINT must be an http(s) URL like http://minio:9000 (got ${JSON.stringify(endpoint)})`);
    }
  }
  const region = env.S3_REGION?.trim() || env.AWS_REGION?.trim() || "us-east-1";
  const forcePathStyle = boolean(env, "S3_FORCE_PATH_STYLE", endpoint !== undefined);

  const rawCache = env.LAYERMERGE_CACHE_BYTES;
  const cacheBytes = rawCache === undefined || rawCache === "" ? 20 * 1024 ** 3 : Number(rawCache);
  if (!Number.isSafeInteger(cacheBytes) || cacheBytes < 0) {
    throw new ConfigError(`LAYERMERGE_CACHE_BYTES must be a whole number of bytes (got ${JSON.stringify(rawCache)})`);
  }
  return { kind: "s3", bucket, prefix, endpoint, region, forcePathStyle, cacheDir: path.join(settings.dataDir, "cache", "artifacts"), cacheBytes };
}

/**
 * The configured store: a folder by default, an S3-compatible bucket for `s3://`. Takes the
 * application's Config (or a resolved ArtifactStoreConfig); S3 variables come from `env`.
 */
export function createArtifactStore(settings: ArtifactStoreSettings | ArtifactStoreConfig, env: NodeJS.ProcessEnv = process.env): ArtifactStore {
  const config = "kind" in settings ? settings : resolveArtifactStoreConfig(settings, env);
  if (config.kind === "fs") return new FsArtifactStore(config.root);
  // Credentials from the given environment when it names them (a merge thread is handed its
  // parent's settings explicitly); otherwise the SDK's default chain (profiles, roles…).
  const credentials = env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
    ? { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, sessionToken: env.AWS_SESSION_TOKEN || undefined }
    : undefined;
  const client = new S3Client({
    credentials,
    endpoint: config.endpoint,
    region: config.region,
    forcePathStyle: config.forcePathStyle,
    // SDK v3 ≥ 3.729 adds CRC32 checksums to every upload by default, which S3-compatible servers
    // (s3rver, moto, older MinIO) may reject or store wrongly; integrity is our own sha256 anyway.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  return new S3ArtifactStore({
    client,
    bucket: config.bucket,
    prefix: config.prefix,
    cacheDir: config.cacheDir,
    cacheBytes: config.cacheBytes,
    description: `s3://${config.bucket}/${config.prefix}${config.endpoint ? ` at ${config.endpoint}` : ""}`,
  });
}

function boolean(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === "") return fallback;
  if (raw === "true" || raw === "1") return true;
  if (raw === "false" || raw === "0") return false;
  throw new ConfigError(`${name} must be true or false (got ${JSON.stringify(env[name])})`);
}
