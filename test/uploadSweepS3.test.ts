import { createHash, randomBytes } from "node:crypto";
import { CreateMultipartUploadCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { startTestServer, TestServer } from "./support/testServer";
import { seedBasics } from "./support/fixtures";
import { buildSegNet } from "../src/core/formats/onnx/testing/buildSegNet";
import { S3TestServer, motoServerInstalled, startMotoServer, startS3rver, s3StoreEnv } from "../src/storage/testing/s3TestServer";

/*
 * The upload sweep with artifacts in S3-compatible storage: a real server (LAYERMERGE_UPLOAD_TTL
 * = 2s) over s3rver (in process) and, where `moto_server` is installed, moto — which also
 * implements ListMultipartUploads, so dead multipart uploads can be seen and aborted there.
 */
const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const MiB = 1024 * 1024;
const BUCKET = "lm-sweep";
const PREFIX = "registry";
const keyOf = (sha256: string) => `${PREFIX}/sha256/${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`;

const servers: Array<[string, () => Promise<S3TestServer | null>, boolean]> = [
  ["s3rver", startS3rver, true],
  ["moto_server", startMotoServer, motoServerInstalled()],
];

describe.each(servers)("upload sweep on S3 (%s)", (name, start, available) => {
  const suite = available ? describe : describe.skip;
  suite("", () => {
    jest.setTimeout(60_000);
    let s3: S3TestServer;
    let server: TestServer;
    const saved = { ...process.env };

    beforeAll(async () => {
      const started = await start();
      if (!started) throw new Error(`${name} is installed but did not start`);
      s3 = started;
      await s3.createBucket(BUCKET);
      const storeEnv = s3StoreEnv(s3, BUCKET, PREFIX);
      Object.assign(process.env, storeEnv);
      server = await startTestServer("sqlite", { ...storeEnv, REDIS_URL: "", LAYERMERGE_UPLOAD_TTL: "2s" });
    }, 30_000);
    afterAll(async () => {
      await server?.stop();
      await s3?.close();
      process.env = saved;
    });

    const put = async (body: Uint8Array) => {
      const res = await fetch(`${server.origin}/artifacts`, { method: "PUT", body });
      expect(res.status).toBe(201);
      return ((await res.json()) as { sha256: string }).sha256;
    };

    test("old unregistered uploads and dead temporary objects and multipart uploads go; registered blobs and a live upload stay", async () => {
      const { task } = await seedBasics(server);
      const modelBytes = buildSegNet({ seed: 41 }).bytes;
      // Held from before the upload until registered, so a slow machine cannot let a sweep take it in between.
      const hold = await server.app.services.artifacts.pin(sha(modelBytes));
      const registered = await put(modelBytes);
      await server.ok(`mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name: "kept", taskId: task.id, artifactSha256: registered } });
      hold();
      const orphanBytes = randomBytes(5000);
      const orphan = await put(orphanBytes);
      expect(orphan).toBe(sha(orphanBytes));
      const deadObject = `${PREFIX}/tmp/${Date.now() - 3_600_000}-${randomBytes(8).toString("hex")}`;
      await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: deadObject, Body: Buffer.from("half") }));
      const lists = s3.supports.listMultipartUploads;
      const deadUpload = `${PREFIX}/tmp/${Date.now() - 3_600_000}-${randomBytes(8).toString("hex")}`;
      if (lists) await s3.client.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: deadUpload }));

      // A live upload: 9 MiB (more than one 8 MiB part, so a multipart upload is under way), then
      // nothing for longer than the TTL, then the rest.
      const head = randomBytes(9 * MiB);
      const tail = randomBytes(1000);
      let resume!: () => void;
      const resumed = new Promise<void>((resolve) => (resume = resolve));
      const body = new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(head);
          await resumed;
          controller.enqueue(tail);
          controller.close();
        },
      });
      const live = fetch(`${server.origin}/artifacts`, { method: "PUT", body, duplex: "half" } as RequestInit);
      let liveUploads: string[] = [];
      if (lists) {
        for (let i = 0; i < 1000 && liveUploads.length === 0; i++) {
          liveUploads = (await s3.listMultipartUploads(BUCKET)).filter((k) => k !== deadUpload);
          if (liveUploads.length === 0) await sleep(10);
        }
        expect(liveUploads).toHaveLength(1);
      }

      await sleep(2200);
      await server.app.services.artifacts.nextSweep();
      const keys = await s3.listKeys(BUCKET);
      expect(keys).toContain(keyOf(registered));
      expect(keys).not.toContain(keyOf(orphan));
      expect(keys).not.toContain(deadObject);
      // The dead multipart upload was aborted, the live one was not.
      if (lists) expect(await s3.listMultipartUploads(BUCKET)).toEqual(liveUploads);

      resume();
      const res = await live;
      expect(res.status).toBe(201);
      const whole = Buffer.concat([head, tail]);
      expect(((await res.json()) as { sha256: string }).sha256).toBe(sha(whole));
      expect(await s3.listKeys(BUCKET)).toContain(keyOf(sha(whole)));
      if (lists) expect(await s3.listMultipartUploads(BUCKET)).toEqual([]);
      const got = Buffer.from(await (await fetch(`${server.origin}/artifacts/${sha(whole)}`)).arrayBuffer());
      expect(sha(got)).toBe(sha(whole));

      const late = await server.gql(`mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name: "late", taskId: task.id, artifactSha256: orphan } });
      expect(late.errors?.[0].extensions).toMatchObject({ code: "NOT_FOUND", field: "input.artifactSha256" });
    });
  });
});
