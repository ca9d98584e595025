import { loadConfig } from "../config/config";
import { openDatabase } from "../persistence/database";
import { TokenService } from "../services/tokenService";
import { parse } from "./main";

export const TOKEN_USAGE = {
  create: `usage: layermerge token create --role READER|WRITER|ADMIN --name NAME [--expires 30d] [--json]
  Prints the new token's id and the token (shown only now) on stdout; --json prints them as one
  JSON object {id, token, name, role, expiresAt} for scripts.`,
  list: `usage: layermerge token list [--all]
  Lists tokens (never the tokens themselves); --all includes revoked ones.`,
  revoke: `usage: layermerge token revoke ID`,
};

export const TOKENS_USAGE = `usage: layermerge token create|list|revoke …
  Token management talks to the database (DATABASE_URL), not to a running registry.

${TOKEN_USAGE.create}

${TOKEN_USAGE.list}

${TOKEN_USAGE.revoke}`;

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
        const { values } = parse(rest, { role: { type: "string" }, name: { type: "string" }, expires: { type: "string" }, json: { type: "boolean" } });
        if (!values.role || !values.name) {
          console.error(TOKEN_USAGE.create);
          return 2;
        }
        const { token, record } = await tokens.create({ name: String(values.name), role: String(values.role).toUpperCase(), expiresIn: values.expires as string | undefined });
        const expiresAt = record.expiresAt?.toISOString() ?? null;
        if (values.json) {
          console.log(JSON.stringify({ id: record.id, token, name: record.name, role: record.role, expiresAt }));
        } else {
          console.log(`id     ${record.id}\ntoken  ${token}`);
          console.error(`created token ${record.name} (${record.role}, ${expiresAt ? `expires ${expiresAt}` : "no expiry"}); the token is shown only now`);
        }
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
          console.error(TOKEN_USAGE.revoke);
          return 2;
        }
        const revoked = await tokens.revoke(positionals[0]);
        console.log(`revoked ${revoked.id} (${revoked.name})`);
        return 0;
      }
      default:
        console.error(TOKENS_USAGE);
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
