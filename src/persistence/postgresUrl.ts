/**
 * `postgresql://…?schema=name` is Prisma's convention for a non-public schema; node-postgres
 * does not know the parameter, so it is taken out here and applied as the search path.
 */
export function parsePostgresUrl(databaseUrl: string): { connectionString: string; schema: string } {
  const url = new URL(databaseUrl);
  const schema = url.searchParams.get("schema") || "public";
  url.searchParams.delete("schema");
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) {
    throw new Error(`DATABASE_URL: schema ${JSON.stringify(schema)} must be a plain identifier`);
  }
  return { connectionString: url.toString(), schema };
}
