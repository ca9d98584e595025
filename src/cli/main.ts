import "reflect-metadata";
import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "../config/config";
import { DomainError } from "../core/errors";
import { UnreachableError } from "../outage";
import { printAppSchema } from "../graphql/schema";
import { migrate } from "../persistence/migrate";
import { tokenCommand, TOKEN_USAGE, TOKENS_USAGE } from "./token.command";
import { serveCommand } from "./serve.command";
import { registerCommand, REGISTER_USAGE } from "./register.command";
import { mergeCommand, MERGE_USAGE } from "./merge.command";
import { evaluateCommand, EVALUATE_USAGE } from "./evaluate.command";
import { searchCommand, SEARCH_USAGE } from "./search.command";
import { workerCommand } from "./worker.command";

const USAGE = `layermerge — a model registry for segmentation models

Usage:
  layermerge serve                      start the API (GraphQL at http://HOST:PORT/graphql)
  layermerge worker                     run queued merges and evaluations (distributed shape, needs REDIS_URL)
  layermerge migrate                    apply database migrations and exit
  layermerge schema                     print the GraphQL schema (SDL)
  layermerge token create --role ROLE --name NAME [--expires 30d] [--json]
                                        create an API token: its id and the token (shown once)
  layermerge token list [--all]         list tokens (--all includes revoked ones)
  layermerge token revoke ID            revoke a token
  layermerge register FILE --name NAME --task TASK [--backbone --source --target --strategy --tags …]
                                        upload a model file (with a progress bar) and register it
  layermerge merge --anchor ID --with ID [ID …] [--method M --schedule S --cutoff T --knots … --name N]
                                        merge models (progress bar), print the merged model's id
  layermerge merge --recipe FILE.yaml [--ref KEY=ID|NAME@VERSION …]
                                        run a mergekit config (as Merge.recipeYaml writes it)
  layermerge evaluate --model ID --dataset ID [--limit N --batch-size B --classes 0,1,… --force]
                                        evaluate (progress bar), print the per-class table and the score
  layermerge search --pool ID [ID …] --objective info-max --dataset ID [--audit ID --budget N --keep best
                    --methods ties --base ID --grid ties.density=0.2,0.5]
                                        rank merges and single models without target labels (progress bar,
                                        ranked table, how sure the pick is)

Commands that talk to a running registry use LAYERMERGE_URL (default http://127.0.0.1:4000)
and LAYERMERGE_TOKEN.

Configuration comes from the environment (DATABASE_URL, HOST, PORT, LAYERMERGE_*); see README.
\`layermerge COMMAND --help\` (or \`layermerge help COMMAND\`) prints one command's usage.`;

const CONFIGURED = "  Configuration comes from the environment (DATABASE_URL, HOST, PORT, LAYERMERGE_*); see the README.";

/** What `layermerge COMMAND --help` prints (read when asked: the command modules import this one). */
function usageOf(command: string, sub?: string): string | null {
  switch (command) {
    case "serve":
      return `usage: layermerge serve\n  Starts the API and the dashboard (GraphQL at http://HOST:PORT/graphql); without REDIS_URL it runs jobs too.\n${CONFIGURED}`;
    case "worker":
      return `usage: layermerge worker\n  Runs queued merges and evaluations from Redis (REDIS_URL), LAYERMERGE_JOB_CONCURRENCY at a time.\n${CONFIGURED}`;
    case "migrate":
      return `usage: layermerge migrate\n  Applies the database's pending migrations (DATABASE_URL) and exits.`;
    case "schema":
      return `usage: layermerge schema\n  Prints the GraphQL schema (SDL) on stdout.`;
    case "token":
      return sub && sub in TOKEN_USAGE ? TOKEN_USAGE[sub as keyof typeof TOKEN_USAGE] : TOKENS_USAGE;
    case "register":
      return REGISTER_USAGE;
    case "merge":
      return MERGE_USAGE;
    case "evaluate":
      return EVALUATE_USAGE;
    case "search":
      return SEARCH_USAGE;
    default:
      return null;
  }
}

/** `--help` or `-h` among the options (not after `--`, where arguments are taken as they are). */
function asksForHelp(args: string[]): boolean {
  const end = args.indexOf("--");
  return (end < 0 ? args : args.slice(0, end)).some((a) => a === "--help" || a === "-h");
}

/** Returns the process exit code. Errors a person can fix are one line, without a stack. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  // Before anything runs: asking for help never opens a database or starts a server.
  const usage = command === "help" && rest.length ? usageOf(rest[0], rest[1]) : command && asksForHelp(rest) ? usageOf(command, rest[0]) : null;
  if (usage) {
    console.log(usage);
    return 0;
  }
  try {
    switch (command) {
      case "serve":
        return await serveCommand();
      case "worker":
        return await workerCommand();
      case "migrate": {
        const config = loadConfig();
        const result = await migrate(config.databaseUrl);
        console.log(result.applied.length ? `applied ${result.applied.join(", ")}` : `database is up to date (${result.total} migrations)`);
        return 0;
      }
      case "schema":
        process.stdout.write(await printAppSchema());
        return 0;
      case "token":
        return await tokenCommand(rest);
      case "register":
        return await registerCommand(rest);
      case "merge":
        return await mergeCommand(rest);
      case "evaluate":
        return await evaluateCommand(rest);
      case "search":
        return await searchCommand(rest);
      case undefined:
      case "help":
      case "--help":
      case "-h":
        console.log(USAGE);
        return command === undefined ? 1 : 0;
      default:
        console.error(`layermerge: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
        return 2;
    }
  } catch (error) {
    if (error instanceof ConfigError || error instanceof DomainError || error instanceof UnreachableError) {
      console.error(`layermerge: ${error.message}`);
      return 1;
    }
    throw error;
  }
}

export function parse(args: string[], options: NonNullable<NonNullable<Parameters<typeof parseArgs>[0]>["options"]>) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new DomainError("BAD_USER_INPUT", (error as Error).message);
  }
}
