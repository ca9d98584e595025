import { loadConfig } from "../config/config";
import { openDatabase } from "../persistence/database";
import { TokenService } from "../services/tokenService";
import { parse } from "./main";

/**
 * Token management talks to the database directly (not the API): it is how the first ADMIN
 * token comes to exist when the API already requires one.
 */
export async function tokenCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const config = loadConfig();
  const database = await openDatabase(config.databaseUrl);
  const tokens = new TokenService(database.prisma);
  try {
    switch (sub) {
      case "create": {
        const { values } = parse(rest, { role: { type: "string" }, name: { type: "string" }, expires: { type: "string" } });
        if (!values.role || !values.name) {
          console.error("usage: layermerge token create --role READER|WRITER|ADMIN --name NAME [--expires 30d]");
          return 2;
        }
        const { token, record } = await tokens.create({ name: String(values.name), role: String(values.role).toUpperCase(), expiresIn: values.expires as string | undefined });
        console.log(token);
        console.error(`created token ${record.id} (${record.role}, ${record.expiresAt ? `expires ${record.expiresAt.toISOString()}` : "no expiry"}); it is shown only now`);
        return 0;
      }
      case "list": {
        const { values } = parse(rest, { all: { type: "boolean" } });
        const rows = await tokens.list(Boolean(values.all));
        const table = rows.map((t) => ({
          id: t.id,
          name: t.name,
          role: t.role,
          prefix: t.prefix + "…",
          expires: t.expiresAt?.toISOString() ?? "never",
          revoked: t.revokedAt?.toISOString() ?? "",
          lastUsed: t.lastUsedAt?.toISOString() ?? "",
        }));
        if (table.length === 0) console.log("no tokens");
        else printTable(table);
        return 0;
      }
      case "revoke": {
        const { positionals } = parse(rest, {});
        if (positionals.length !== 1) {
          console.error("usage: layermerge token revoke ID");
          return 2;
        }
        const revoked = await tokens.revoke(positionals[0]);
        console.log(`revoked ${revoked.id} (${revoked.name})`);
        return 0;
      }
      default:
        console.error("usage: layermerge token create|list|revoke …");
        return 2;
    }
  } finally {
    await database.close();
  }
}

function printTable(rows: Array<Record<string, string>>): void {
  const keys = Object.keys(rows[0]);
  const widths = keys.map((k) => Math.max(k.length, ...rows.map((r) => r[k].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  console.log(line(keys));
  for (const r of rows) console.log(line(keys.map((k) => r[k])));
}
