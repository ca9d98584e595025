import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawn } from "node:child_process";
import { CreateBucketCommand, ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";

/** An S3-compatible server on loopback, started by a test and stopped by it. */
export interface S3TestServer {
  name: string;
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** A client configured as createArtifactStore configures its own. */
  client: S3Client;
  /** Another such client (for middleware of one test's own); the caller destroys it. */
  newClient(): S3Client;
  /** What this server implements of the S3 API beyond the basics. */
  supports: {
    abortMultipartUpload: boolean;
    uploadPartCopy: boolean;
    listMultipartUploads: boolean;
    /** ListMultipartUploads reports when each upload began (moto 5 answers a fixed 2010 date). */
    uploadInitiatedTimes: boolean;
  };
  createBucket(bucket: string): Promise<void>;
  listKeys(bucket: string): Promise<string[]>;
  /** Keys of multipart uploads not completed nor aborted (only where supported). */
  listMultipartUploads(bucket: string): Promise<string[]>;
  close(): Promise<void>;
}

function clientFor(endpoint: string, accessKeyId: string, secretAccessKey: string): S3Client {
  return new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

function common(name: string, endpoint: string, accessKeyId: string, secretAccessKey: string) {
  const client = clientFor(endpoint, accessKeyId, secretAccessKey);
  return {
    name,
    endpoint,
    accessKeyId,
    secretAccessKey,
    client,
    newClient: () => clientFor(endpoint, accessKeyId, secretAccessKey),
    async createBucket(bucket: string) {
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
    },
    async listKeys(bucket: string) {
      const keys: string[] = [];
      let ContinuationToken: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken }));
        keys.push(...(page.Contents ?? []).map((o) => o.Key!));
        ContinuationToken = page.NextContinuationToken;
      } while (ContinuationToken);
      return keys.sort();
    },
    async listMultipartUploads(bucket: string) {
      const page = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
      return (page.Uploads ?? []).map((u) => u.Key!).sort();
    },
  };
}

interface S3rverInstance {
  run(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
}

/** npm's s3rver, in process, storing in a temporary folder. Lacks multipart abort and part copy. */
export async function startS3rver(): Promise<S3TestServer> {
  // s3rver ships no type declarations.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const S3rver = require("s3rver") as new (options: Record<string, unknown>) => S3rverInstance;
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "lm-s3rver-"));
  const server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory });
  const { port } = await server.run();
  const base = common("s3rver", `http://127.0.0.1:${port}`, "S3RVER", "S3RVER");
  return {
    ...base,
    supports: { abortMultipartUpload: false, uploadPartCopy: false, listMultipartUploads: false, uploadInitiatedTimes: false },
    async close() {
      base.client.destroy();
      await server.close();
      fs.rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** Whether `moto_server` is on PATH (decides, before any test runs, whether its suite runs). */
export function motoServerInstalled(): boolean {
  return (process.env.PATH ?? "").split(path.delimiter).some((dir) => dir && fs.existsSync(path.join(dir, "moto_server")));
}

/**
 * moto's server mode (`apt-get install -y python3-moto`, or pip's moto) as a child process on a
 * port it picks; null when `moto_server` is not installed or does not start within 20 s.
 */
export async function startMotoServer(): Promise<S3TestServer | null> {
  if (!motoServerInstalled()) return null;
  const child = spawn("moto_server", ["-H", "127.0.0.1", "-p", "0"], { stdio: ["ignore", "pipe", "pipe"] });
  const port = await new Promise<number | null>((resolve) => {
    let output = "";
    const timer = setTimeout(() => resolve(null), 20_000);
    const onData = (data: Buffer) => {
      output += data.toString();
      const match = /Running on http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("error", () => resolve(null));
    child.on("exit", () => resolve(null));
  });
  if (port === null) {
    child.kill("SIGKILL");
    return null;
  }
  child.stdout.resume();
  child.stderr.resume();
  const base = common("moto", `http://127.0.0.1:${port}`, "testing", "testing");
  return {
    ...base,
    supports: { abortMultipartUpload: true, uploadPartCopy: true, listMultipartUploads: true, uploadInitiatedTimes: false },
    async close() {
      base.client.destroy();
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        await exited;
      }
    },
  };
}

/** The environment a registry process needs to keep its artifacts in `s3://bucket/prefix` on `s3`. */
export function s3StoreEnv(s3: S3TestServer, bucket: string, prefix: string): Record<string, string> {
  return {
    LAYERMERGE_ARTIFACTS: `s3://${bucket}/${prefix}`,
    S3_ENDPOINT: s3.endpoint,
    S3_REGION: "us-east-1",
    S3_FORCE_PATH_STYLE: "true",
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
  };
}
