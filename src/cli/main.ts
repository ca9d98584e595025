import "reflect-metadata";
import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "../config/config";
import { DomainError } from "../core/errors";
import { UnreachableError } from "../outage";
import { printAppSchema } from "../graphql/schema";
import { migrate } from "../persistence/migrate";
import { tokenCommand } from "./token.command";
import { serveCommand } from "./serve.command";
import { registerCommand } from "./register.command";
import { mergeCommand } from "./merge.command";
import { evaluateCommand } from "./evaluate.command";
import { searchCommand } from "./search.command";
import { workerCommand } from "./worker.command";

const USAGE = `layermerge — a model registry for segmentation models

Usage:
  layermerge serve                      start the API (GraphQL at http://HOST:PORT/graphql)
  layermerge worker                     run queued merges and evaluations (distributed shape, needs REDIS_URL)
  layermerge migrate                    apply database migrations and exit
  layermerge schema                     print the GraphQL schema (SDL)
  layermerge token create --role ROLE --name NAME [--expires 30d]
                                        create an API token (printed once)
  layermerge token list [--all]         list tokens (--all includes revoked ones)
  layermerge token revoke ID            revoke a token
  layermerge register FILE --name NAME --task TASK [--backbone --source --target --strategy --tags …]
                                        upload a model file (with a progress bar) and register it
  layermerge merge --anchor ID --with ID [ID …] [--method M --schedule S --cutoff T --knots … --name N]
                                        merge models (progress bar), print the merged model's id
  layermerge evaluate --model ID --dataset ID [--limit N --batch-size B --classes 0,1,… --force]
                                        evaluate (progress bar), print the per-class table and the score
  layermerge search --pool ID [ID …] --objective info-max --dataset ID [--audit ID --budget N --keep best]
                                        rank merges and single models without target labels (progress bar,
                                        ranked table, how sure the pick is)

Commands that talk to a running registry use LAYERMERGE_URL (default http://127.0.0.1:4000)
and LAYERMERGE_TOKEN.

Configuration comes from the environment (DATABASE_URL, HOST, PORT, LAYERMERGE_*); see README.`;

/** Returns the process exit code. Errors a person can fix are one line, without a stack. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
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
