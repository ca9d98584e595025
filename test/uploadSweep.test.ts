import * as fs from "node:fs";
import * as path from "node:path";
import { createHash, randomBytes } from "node:crypto";
import { databaseKinds } from "./support/testDatabase";
import { startTestServer, TestServer } from "./support/testServer";
import { seedBasics } from "./support/fixtures";
import { buildSegNet } from "../src/core/formats/onnx/testing/buildSegNet";
import { registerCommand } from "../src/cli/register.command";
import { ApiClient } from "../src/cli/apiClient";
import { openDatabase } from "../src/persistence/database";
import { FsArtifactStore } from "../src/storage/fsArtifactStore";
import { ArtifactService } from "../src/services/artifactService";

/*
 * Uploads that never become a model: a real server with LAYERMERGE_UPLOAD_TTL=2s sweeps them,
 * keeps what models reference (soft-deleted ones too) and what is in use, and lets an ADMIN list
 * and delete blobs. Blob presence is checked on disk, by paths computed here from node's sha256.
 */
const TTL_MS = 2000;
const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const REGISTER = `mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`;

function blobPath(server: TestServer, sha256: string): string {
  return path.join(server.db.dataDir, "artifacts", sha256.slice(0, 2), sha256.slice(2, 4), sha256);
}

async function put(server: TestServer, bytes: Uint8Array, token?: string): Promise<string> {
  const res = await fetch(`${server.origin}/artifacts`, { method: "PUT", body: bytes, headers: token ? { authorization: `Bearer ${token}` } : {} });
  expect(res.status).toBe(201);
  const body = (await res.json()) as { sha256: string };
  expect(body.sha256).toBe(sha(bytes));
  return body.sha256;
}

/** Waits until everything stored so far is older than the TTL, then for a whole sweep that starts after that. */
async function sweepAfterTtl(server: TestServer) {
  await sleep(TTL_MS + 200);
  return server.app.services.artifacts.nextSweep();
}

describe.each(databaseKinds)("upload sweep with LAYERMERGE_UPLOAD_TTL=2s (%s)", (kind) => {
  jest.setTimeout(60_000);
  let server: TestServer;
  let task: { id: string };
  beforeAll(async () => {
    server = await startTestServer(kind, { LAYERMERGE_UPLOAD_TTL: "2s" });
    ({ task } = await seedBasics(server));
  });
  afterAll(() => server.stop());

  test("an old unreferenced upload is deleted; registered, soft-deleted-model and pinned blobs are kept; registering the swept one is NOT_FOUND", async () => {
    const registeredBytes = buildSegNet({ seed: 11 }).bytes;
    const deletedModelBytes = buildSegNet({ seed: 12 }).bytes;
    const orphanBytes = randomBytes(3000);
    const pinnedBytes = randomBytes(3001);
    // Held from before the upload until registered, so a slow machine cannot let a sweep take
    // them in between (what that does is tested below and in the race test).
    const holds = await Promise.all([registeredBytes, deletedModelBytes].map((b) => server.app.services.artifacts.pin(sha(b))));
    const registered = await put(server, registeredBytes);
    await server.ok(REGISTER, { i: { name: "kept", taskId: task.id, artifactSha256: registered } });
    const ofDeleted = await put(server, deletedModelBytes);
    const { registerModel: gone } = await server.ok(REGISTER, { i: { name: "soft-deleted", taskId: task.id, artifactSha256: ofDeleted } });
    holds.forEach((release) => release());
    await server.ok(`mutation($id: ID!) { deleteModel(id: $id) { deletedAt } }`, { id: gone.id });
    const orphan = await put(server, orphanBytes);
    const pinned = await put(server, pinnedBytes);
    const unpin = await server.app.services.artifacts.pin(pinned);
    // A dead attempt's temporary file (a crashed upload), an hour old.
    const dead = path.join(server.db.dataDir, "artifacts", "tmp", `${Date.now() - 3_600_000}-${randomBytes(8).toString("hex")}`);
    fs.writeFileSync(dead, "half an upload");
    const hourAgo = new Date(Date.now() - 3_600_000);
    fs.utimesSync(dead, hourAgo, hourAgo);

    // Sweeps run every second: what one sweep did is not the test's business, the state after
    // a whole sweep past the TTL is.
    const swept = await sweepAfterTtl(server);
    expect(swept.pinned).toEqual([pinned]);
    expect(fs.existsSync(dead)).toBe(false);
    expect(fs.existsSync(blobPath(server, orphan))).toBe(false);
    for (const kept of [registered, ofDeleted, pinned]) expect(fs.readFileSync(blobPath(server, kept)).length).toBeGreaterThan(0);
    expect((await fetch(`${server.origin}/artifacts/${orphan}`, { method: "HEAD" })).status).toBe(404);

    const late = await server.gql(REGISTER, { i: { name: "too-late", taskId: task.id, artifactSha256: orphan } });
    expect(late.errors?.[0].extensions).toMatchObject({ code: "NOT_FOUND", field: "input.artifactSha256" });
    expect(late.errors?.[0].message).toMatch(/LAYERMERGE_UPLOAD_TTL/);

    // Unpinned, the next sweep takes it.
    unpin();
    await server.app.services.artifacts.nextSweep();
    expect(fs.existsSync(blobPath(server, pinned))).toBe(false);
    const rows = await server.app.services.database.prisma.artifact.findMany({ select: { sha256: true } });
    expect(rows.map((r) => r.sha256).sort()).toEqual([registered, ofDeleted].sort());
  });

  test("an upload still arriving after the TTL is not swept, and completes", async () => {
    const first = randomBytes(64 * 1024);
    const second = randomBytes(64 * 1024);
    let resume!: () => void;
    const resumed = new Promise<void>((resolve) => (resume = resolve));
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(first);
        await resumed;
        controller.enqueue(second);
        controller.close();
      },
    });
    const request = fetch(`${server.origin}/artifacts`, { method: "PUT", body, duplex: "half" } as RequestInit);
    const tmp = path.join(server.db.dataDir, "artifacts", "tmp");
    for (let i = 0; i < 500 && fs.readdirSync(tmp).length === 0; i++) await sleep(10);
    const [partial] = fs.readdirSync(tmp);
    expect(partial).toBeDefined();
    // Nothing written for longer than the TTL: by its mtime, a dead attempt — but it is alive.
    await sweepAfterTtl(server);
    expect(fs.existsSync(path.join(tmp, partial!))).toBe(true);
    resume();
    const res = await request;
    expect(res.status).toBe(201);
    const whole = Buffer.concat([first, second]);
    expect(((await res.json()) as { sha256: string }).sha256).toBe(sha(whole));
    expect(fs.readFileSync(blobPath(server, sha(whole)))).toEqual(whole);
  });

  // On PostgreSQL half the deletions come from "another process" (its own connection pool and
  // store object, so none of this process's pins): only the database protects the registration.
  // SQLite is one process's database (embedded shape), so there every deletion is this process's.
  test(`registration and deletion racing${kind === "postgres" ? ", in this process and from another one" : ""}: never a row without its blob`, async () => {
    const otherDb = kind === "postgres" ? await openDatabase(server.db.url, { migrate: false }) : null;
    const other = otherDb ? new ArtifactService(otherDb.prisma, otherDb.direct, new FsArtifactStore(path.join(server.db.dataDir, "artifacts")), TTL_MS, "postgres") : server.app.services.artifacts;
    try {
      const outcomes = await Promise.all(
        Array.from({ length: 8 }, async (_, k) => {
          const bytes = buildSegNet({ seed: 100 + k }).bytes;
          const sha256 = await put(server, bytes);
          const deleter = k % 2 === 0 ? server.app.services.artifacts : other;
          const [registration, deletion] = await Promise.all([
            server.gql(REGISTER, { i: { name: `race-${k}`, taskId: task.id, artifactSha256: sha256 } }),
            deleter.deleteIfUnreferenced(sha256),
          ]);
          return { sha256, registration, deletion };
        }),
      );
      const prisma = server.app.services.database.prisma;
      for (const { sha256, registration, deletion } of outcomes) {
        const row = await prisma.artifact.findUnique({ where: { sha256 }, include: { models: true } });
        const stored = fs.existsSync(blobPath(server, sha256));
        if (registration.errors) {
          expect(registration.errors[0].extensions?.code).toBe("NOT_FOUND");
          // "missing": the periodic sweep got there first (only on a very slow machine).
          expect(["deleted", "missing"]).toContain(deletion);
          expect(row).toBeNull();
          expect(stored).toBe(false);
        } else {
          expect(["referenced", "pinned"]).toContain(deletion);
          expect(row?.models.map((m) => m.id)).toEqual([registration.data.registerModel.id]);
          expect(stored).toBe(true);
        }
      }
      // No placeholder of a deletion is ever left behind.
      expect(await prisma.artifact.count({ where: { format: "(deleting)" } })).toBe(0);
    } finally {
      await otherDb?.close();
    }
  });
  // Deterministic version of the cross-process race on PostgreSQL: the other process's deletion
  // has claimed the sha256 and is held just before deleting the blob; a registration (which
  // found the blob at its start) reaches its Artifact INSERT and waits for the claim; the
  // deletion then finishes. The registration's row is new, so it looks for the blob again in its
  // transaction, finds it gone and answers NOT_FOUND — no row is left without its blob.
  (kind === "postgres" ? test : test.skip)("a registration whose blob another process deletes under it answers NOT_FOUND and leaves no row", async () => {
    let entered!: () => void;
    const inDelete = new Promise<void>((resolve) => (entered = resolve));
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    class HeldStore extends FsArtifactStore {
      override async delete(sha256: string) {
        entered();
        await gate;
        return super.delete(sha256);
      }
    }
    const otherDb = await openDatabase(server.db.url, { migrate: false });
    try {
      const other = new ArtifactService(otherDb.prisma, otherDb.direct, new HeldStore(path.join(server.db.dataDir, "artifacts")), TTL_MS, "postgres");
      const bytes = buildSegNet({ seed: 200 }).bytes;
      const sha256 = await put(server, bytes);
      const deletion = other.deleteIfUnreferenced(sha256);
      await inDelete; // the claim is held, the blob still there
      const registration = server.gql(REGISTER, { i: { name: "under-deletion", taskId: task.id, artifactSha256: sha256 } });
      let waiting = 0;
      for (let i = 0; i < 3000 && waiting === 0; i++) {
        const [row] = await otherDb.prisma.$queryRawUnsafe<Array<{ n: bigint }>>(
          `SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO "Artifact"%'`,
        );
        waiting = Number(row!.n);
        if (waiting === 0) await sleep(10);
      }
      expect(waiting).toBeGreaterThan(0);
      open();
      expect(await deletion).toBe("deleted");
      const result = await registration;
      expect(result.errors?.[0].extensions).toMatchObject({ code: "NOT_FOUND", field: "input.artifactSha256" });
      expect(await server.app.services.database.prisma.artifact.findUnique({ where: { sha256 } })).toBeNull();
      expect(await server.app.services.database.prisma.model.findFirst({ where: { name: "under-deletion" } })).toBeNull();
      expect(fs.existsSync(blobPath(server, sha256))).toBe(false);
    } finally {
      open();
      await otherDb.close();
    }
  });
});

describe.each(databaseKinds)("artifacts connection and deleteArtifact (%s)", (kind) => {
  let server: TestServer;
  let admin: string;
  let writer: string;
  beforeAll(async () => {
    server = await startTestServer(kind, { LAYERMERGE_AUTH: "writes" });
    admin = (await server.app.services.tokens.create({ name: "admin", role: "ADMIN" })).token;
    writer = (await server.app.services.tokens.create({ name: "writer", role: "WRITER" })).token;
  });
  afterAll(() => server.stop());

  const LIST = `query($r: Boolean, $first: Int, $after: String) {
    artifacts(referenced: $r, first: $first, after: $after) {
      edges { cursor node { sha256 sizeBytes storedAt ageSeconds referenced artifact { format } models { name deletedAt } } }
      pageInfo { hasNextPage hasPreviousPage endCursor }
    }
  }`;

  test("lists blobs in sha256 order with size, age and referencing models; filters and pages; deletes only unreferenced ones; ADMIN only", async () => {
    const { task } = await seedBasics(server, "", admin);
    const uploads = [randomBytes(100), randomBytes(200), randomBytes(300)];
    const orphans = await Promise.all(uploads.map((b) => put(server, b, writer)));
    const liveBytes = buildSegNet({ seed: 21 }).bytes;
    const deadBytes = buildSegNet({ seed: 22 }).bytes;
    const live = await put(server, liveBytes, writer);
    const dead = await put(server, deadBytes, writer);
    await server.ok(REGISTER, { i: { name: "live", taskId: task.id, artifactSha256: live } }, { token: writer });
    const { registerModel: d } = await server.ok(REGISTER, { i: { name: "dead", taskId: task.id, artifactSha256: dead } }, { token: writer });
    await server.ok(`mutation($id: ID!) { deleteModel(id: $id) { id } }`, { id: d.id }, { token: writer });

    const sizes = new Map<string, number>([...orphans.map((s, i) => [s, uploads[i]!.length] as [string, number]), [live, liveBytes.length], [dead, deadBytes.length]]);
    const all = (await server.ok(LIST, {}, { token: admin })).artifacts;
    expect(all.edges.map((e: any) => e.node.sha256)).toEqual([...sizes.keys()].sort());
    expect(all.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: false });
    for (const { node } of all.edges) {
      expect(node.sizeBytes).toBe(sizes.get(node.sha256));
      // storedAt is the file's mtime, read here independently.
      expect(new Date(node.storedAt).getTime()).toBe(Math.floor(fs.statSync(blobPath(server, node.sha256)).mtimeMs));
      expect(node.ageSeconds).toBeGreaterThanOrEqual(0);
      expect(node.ageSeconds).toBeLessThan(600);
    }
    const bySha = new Map(all.edges.map((e: any) => [e.node.sha256, e.node]));
    expect(bySha.get(live)).toMatchObject({ referenced: true, artifact: { format: "onnx" }, models: [{ name: "live", deletedAt: null }] });
    expect(bySha.get(dead)).toMatchObject({ referenced: true, models: [{ name: "dead", deletedAt: expect.any(String) }] });
    for (const o of orphans) expect(bySha.get(o)).toMatchObject({ referenced: false, artifact: null, models: [] });

    const unreferenced = (await server.ok(LIST, { r: false }, { token: admin })).artifacts;
    expect(unreferenced.edges.map((e: any) => e.node.sha256)).toEqual([...orphans].sort());
    const referenced = (await server.ok(LIST, { r: true }, { token: admin })).artifacts;
    expect(referenced.edges.map((e: any) => e.node.sha256)).toEqual([live, dead].sort());

    // Pages of two: 2 + 2 + 1, in order, each continuing after the previous end cursor.
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const page: any = (await server.ok(LIST, { first: 2, after }, { token: admin })).artifacts;
      seen.push(...page.edges.map((e: any) => e.node.sha256));
      pages++;
      expect(page.pageInfo.hasPreviousPage).toBe(after !== null);
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual([...sizes.keys()].sort());

    // Authorization: a WRITER is FORBIDDEN, no token is UNAUTHENTICATED (reads are open otherwise).
    const asWriter = await server.gql(LIST, {}, { token: writer });
    expect(asWriter.errors?.[0].extensions?.code).toBe("FORBIDDEN");
    expect((await server.gql(LIST, {})).errors?.[0].extensions?.code).toBe("UNAUTHENTICATED");
    const DELETE = `mutation($s: ID!) { deleteArtifact(sha256: $s) { sha256 sizeBytes } }`;
    expect((await server.gql(DELETE, { s: orphans[0] }, { token: writer })).errors?.[0].extensions?.code).toBe("FORBIDDEN");
    expect(fs.existsSync(blobPath(server, orphans[0]!))).toBe(true);

    expect((await server.ok(DELETE, { s: orphans[0] }, { token: admin })).deleteArtifact).toEqual({ sha256: orphans[0], sizeBytes: 100 });
    expect(fs.existsSync(blobPath(server, orphans[0]!))).toBe(false);
    expect((await server.gql(DELETE, { s: orphans[0] }, { token: admin })).errors?.[0].extensions).toMatchObject({ code: "NOT_FOUND", field: "sha256" });
    const conflictLive = await server.gql(DELETE, { s: live }, { token: admin });
    expect(conflictLive.errors?.[0].extensions).toMatchObject({ code: "CONFLICT", field: "sha256" });
    expect(conflictLive.errors?.[0].message).toContain("live@1");
    const conflictDead = await server.gql(DELETE, { s: dead }, { token: admin });
    expect(conflictDead.errors?.[0].extensions?.code).toBe("CONFLICT");
    expect(conflictDead.errors?.[0].message).toContain("dead@1 (deleted)");
    expect((await server.gql(DELETE, { s: "xyz" }, { token: admin })).errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    for (const kept of [live, dead]) expect(fs.existsSync(blobPath(server, kept))).toBe(true);
    expect((await server.ok(LIST, { r: false }, { token: admin })).artifacts.edges.map((e: any) => e.node.sha256)).toEqual(orphans.slice(1).sort());
  });
});

describe("layermerge register when the blob is swept between its HEAD and the registration", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer("sqlite");
  });
  afterAll(() => server.stop());

  test("registerModel answers NOT_FOUND, the CLI uploads again and registers", async () => {
    const { task } = await seedBasics(server);
    const bytes = buildSegNet({ seed: 31 }).bytes;
    const sha256 = await put(server, bytes);
    const file = path.join(server.db.dataDir, "model.onnx");
    fs.writeFileSync(file, bytes);
    // The registry holds the bytes when the CLI asks, and the sweep deletes them right after.
    class SweptAfterHead extends ApiClient {
      override async has(s: string) {
        const held = await super.has(s);
        expect(await server.app.services.artifacts.deleteIfUnreferenced(s)).toBe("deleted");
        return held;
      }
    }
    const err: string[] = [];
    const out: string[] = [];
    const error = jest.spyOn(console, "error").mockImplementation((...a) => void err.push(a.join(" ")));
    const log = jest.spyOn(console, "log").mockImplementation((...a) => void out.push(a.join(" ")));
    const write = jest.spyOn(process.stderr, "write").mockImplementation(() => true);
    let code: number;
    try {
      code = await registerCommand([file, "--name", "re-uploaded", "--task", task.id], new SweptAfterHead(server.origin));
    } finally {
      error.mockRestore();
      log.mockRestore();
      write.mockRestore();
    }
    expect(code).toBe(0);
    expect(err.join("\n")).toMatch(/already holds/);
    expect(err.join("\n")).toMatch(/no longer holds .*uploading again/);
    const { model } = await server.ok(`query($id: ID!) { model(id: $id) { name artifact { sha256 sizeBytes } } }`, { id: out.join("").trim() });
    expect(model).toEqual({ name: "re-uploaded", artifact: { sha256, sizeBytes: bytes.length } });
    expect(fs.readFileSync(blobPath(server, sha256))).toEqual(Buffer.from(bytes));
  });
});
