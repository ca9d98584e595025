import { databaseKinds } from "./support/testDatabase";
import { openedDatabase } from "./support/openedDatabase";
import { createLoaders } from "../src/services/loaders";
import { ModelReads } from "../src/services/modelReads";

/*
 * A request's loaders gather every key asked for in one tick into one query. A page of 500
 * models whose relations fan out (each model's parents, their artifacts) can ask for more keys at
 * once than a statement takes parameters (Prisma allows 999 on SQLite): the loaders must still
 * answer every key.
 */
describe.each(databaseKinds)("request loaders with more keys than one statement takes (%s)", (kind) => {
  const opened = openedDatabase(kind);

  test("1,203 jobs asked for in one tick, with 40 unknown ids among them: every one answered", async () => {
    const database = opened();
    await database.prisma.job.createMany({ data: Array.from({ length: 1203 }, (_, i) => ({ kind: "MERGE", payload: { n: i }, message: `job ${i}` })) });
    const jobs = await database.prisma.job.findMany({ select: { id: true, message: true } });
    expect(jobs).toHaveLength(1203);
    const loaders = createLoaders(database.prisma, new ModelReads(database.direct));
    const unknown = Array.from({ length: 40 }, (_, i) => `missing-${i}`);
    const ids = [...jobs.map((j) => j.id), ...unknown];
    const got = await Promise.all(ids.map((id) => loaders.job.load(id)));
    expect(got.slice(0, 1203).map((j) => j?.message)).toEqual(jobs.map((j) => j.message));
    expect(got.slice(1203)).toEqual(unknown.map(() => null));
    // the same through a loader of groups: no merge has inputs, every list is empty
    const inputs = await Promise.all(ids.map((id) => loaders.mergeInputs.load(id)));
    expect(inputs.every((list) => Array.isArray(list) && list.length === 0)).toBe(true);
  });
});
