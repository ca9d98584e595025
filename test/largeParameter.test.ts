import { createTestDatabase, databaseKinds, TestDatabase } from "./support/testDatabase";
import { openDatabase, Database } from "../src/persistence/database";

describe.each(databaseKinds)("large parameters of raw statements (%s)", (kind) => {
  let target: TestDatabase;
  let database: Database;

  beforeAll(async () => {
    target = await createTestDatabase(kind);
    database = await openDatabase(target.url);
  });
  afterAll(async () => {
    await database.close();
    await target.cleanup();
  });

  // 100 KB of JSON-ish text with quotes, backslashes and non-ASCII: what the driver must receive.
  const value = JSON.stringify(Array.from({ length: 2000 }, (_, i) => ({ name: `layer.${i}.weight`, note: 'a "quoted" \\ path — ü' })));

  test("the driver receives the value in place of its stand-in, inside a transaction too", async () => {
    const prisma = database.prisma;
    const echoed = await database.withLargeParameter(value, async (parameter) => {
      expect(parameter.length).toBeLessThan(100);
      const [plain] = await prisma.$queryRaw<Array<{ v: string }>>`SELECT ${parameter} AS v`;
      const inTransaction = await prisma.$transaction(async (tx) => (await tx.$queryRaw<Array<{ v: string }>>`SELECT ${parameter} AS v`)[0]!.v);
      return [plain!.v, inTransaction];
    });
    expect(echoed).toEqual([value, value]);
  });

  test("a stand-in means nothing once its scope has ended, even after an error", async () => {
    // SQLite stores what it is given; PostgreSQL refuses the stand-in's NUL (no text holds one).
    const echo = (parameter: string) =>
      database.prisma.$queryRaw<Array<{ v: string }>>`SELECT ${parameter} AS v`.then(
        (rows) => rows[0]!.v,
        (error: Error) => `refused: ${error.message}`,
      );
    const expected = (parameter: string) => (kind === "sqlite" ? parameter : expect.stringMatching(/^refused: .*0x00/s));
    const kept = await database.withLargeParameter(value, async (parameter) => parameter);
    expect(await echo(kept)).toEqual(expected(kept));

    let thrown = "";
    await expect(
      database.withLargeParameter(value, async (parameter) => {
        thrown = parameter;
        throw new Error("refused");
      }),
    ).rejects.toThrow("refused");
    expect(await echo(thrown)).toEqual(expected(thrown));
  });
});
