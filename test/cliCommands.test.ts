import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { openDatabase } from "../src/persistence/database";
import { TokenService } from "../src/services/tokenService";
import { cli } from "./support/cli";

describe("layermerge COMMAND --help", () => {
  // A configuration every command would refuse (and no registry to reach): help must not need one.
  const broken = { PORT: "not-a-port", DATABASE_URL: "mysql://nowhere", LAYERMERGE_URL: "http://127.0.0.1:1" };

  test.each(["serve", "worker", "migrate", "schema", "token", "register", "merge", "evaluate", "search"])("%s --help prints its usage on stdout and exits 0", async (command) => {
    for (const flag of ["--help", "-h"]) {
      const run = await cli([command, flag], broken);
      expect(run).toMatchObject({ code: 0, err: "" });
      expect(run.out).toMatch(new RegExp(`^usage: layermerge ${command}\\b`));
    }
    expect((await cli(["help", command], broken)).out).toBe((await cli([command, "--help"], broken)).out);
  });

  test("token's subcommands have their own usage; --help among other options still wins, not after --", async () => {
    for (const sub of ["create", "list", "revoke"]) {
      const run = await cli(["token", sub, "--help"], broken);
      expect(run.code).toBe(0);
      expect(run.out).toMatch(new RegExp(`^usage: layermerge token ${sub}\\b`));
    }
    expect((await cli(["merge", "--anchor", "x", "--help"], broken)).code).toBe(0);
    // After `--` it is an argument like any other: register takes it for the file and, lacking --name, refuses.
    expect(await cli(["register", "--", "--help"], broken)).toMatchObject({ code: 2, out: "" });
  });
});

describe("layermerge token create", () => {
  let dir: string;
  let env: Record<string, string>;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-cli-token-"));
    env = { DATABASE_URL: `file:${path.join(dir, "lm.db")}`, LAYERMERGE_DATA_DIR: dir };
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test("prints the id and the token on stdout, or one JSON object with --json; both tokens authenticate as that id", async () => {
    expect((await cli(["migrate"], env)).code).toBe(0);
    const human = await cli(["token", "create", "--role", "writer", "--name", "ci"], env);
    expect(human.code).toBe(0);
    const match = /^id {5}(\S+)\ntoken {2}(lm_\S+)$/.exec(human.out);
    expect(match).not.toBeNull();
    expect(human.err).toMatch(/created token ci \(WRITER, no expiry\); the token is shown only now/);

    const json = await cli(["token", "create", "--role", "READER", "--name", "script", "--expires", "1d", "--json"], env);
    expect(json.code).toBe(0);
    expect(json.err).toBe("");
    const created = JSON.parse(json.out);
    expect(created).toMatchObject({ name: "script", role: "READER", token: expect.stringMatching(/^lm_/) });
    expect(Date.parse(created.expiresAt) - Date.now()).toBeGreaterThan(23 * 3600_000);

    const database = await openDatabase(env.DATABASE_URL, { migrate: false });
    try {
      const tokens = new TokenService(database.prisma);
      const rows = await tokens.list();
      const byId = new Map(rows.map((r) => [r.id, r]));
      expect(byId.get(match![1])).toMatchObject({ name: "ci", role: "WRITER", prefix: match![2].slice(0, 10) });
      expect(byId.get(created.id)).toMatchObject({ name: "script", role: "READER", prefix: created.token.slice(0, 10) });
      expect(await tokens.authenticate(match![2])).toMatchObject({ role: "WRITER" });
      expect(await tokens.authenticate(created.token)).toMatchObject({ role: "READER" });
    } finally {
      await database.close();
    }
  });
});
