import { ConfigError, loadConfig } from "../config/config";
import { startApp } from "../main";

/** Runs until SIGINT/SIGTERM, then drains requests and closes the database. */
export async function serveCommand(): Promise<number> {
  const config = loadConfig();
  let app;
  try {
    app = await startApp(config);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const e = error as NodeJS.ErrnoException;
    if (e.code === "EADDRINUSE") throw new Error(`port ${config.port} on ${config.host} is already in use; set PORT to another port`);
    // An unreachable database or Redis is an UnreachableError already, naming which one.
    throw error;
  }
  const stopped = new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
  console.error(`layermerge: serving GraphQL at ${app.server.url} (auth ${config.auth})`);
  await stopped;
  await app.stop();
  return 0;
}
