import { openDatabase, type Database } from "../../src/persistence/database";
import { createTestDatabase, type DatabaseKind } from "./testDatabase";

/**
 * A fresh database of `kind`, opened before the suite's tests and closed and removed after them
 * (jest hooks, so call it at the top of a describe). Returns a getter for the open database; a
 * suite's own beforeAll, registered after this call, runs after it.
 */
export function openedDatabase(kind: DatabaseKind): () => Database {
  let database: Database | null = null;
  let cleanup: (() => Promise<void>) | null = null;
  beforeAll(async () => {
    const db = await createTestDatabase(kind);
    cleanup = () => db.cleanup();
    database = await openDatabase(db.url);
  });
  afterAll(async () => {
    await database?.close();
    await cleanup?.();
  });
  return () => {
    if (!database) throw new Error("the test database is opened in beforeAll");
    return database;
  };
}
