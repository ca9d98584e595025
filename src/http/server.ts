import * as http from "node:http";
import { randomUUID } from "node:crypto";
import express from "express";
import { ApolloServer } from "@apollo/server";
import { expressMiddleware } from "@as-integrations/express5";
import { ApolloServerPluginDrainHttpServer } from "@apollo/server/plugin/drainHttpServer";
import { ApolloServerPluginCacheControlDisabled } from "@apollo/server/plugin/disabled";
import { GraphQLError } from "graphql";
import type { Config } from "../config/config";
import type { Services } from "../services/services";
import type { Logger } from "../logging";
import { DomainError } from "../core/errors";
import { buildAppSchema } from "../graphql/schema";
import { createFormatError, serviceUnavailablePlugin } from "../graphql/errors";
import { isDatabaseUnreachable } from "../persistence/databaseErrors";
import { limitsPlugin } from "../graphql/limits";
import { metricsPlugin } from "../graphql/metricsPlugin";
import { CompiledExecution } from "../graphql/compiledExecution";
import { ResponseCache } from "../graphql/responseCache";
import type { GraphQLContext } from "../graphql/context";
import { authenticate } from "./authenticate";
import { cors } from "./cors";
import { hostCheck } from "./hostCheck";
import { artifactRoutes } from "./artifactRoutes";
import { checkMetricsAuth } from "./metricsAuth";
import { webRoutes } from "./webRoutes";
import { attachSubscriptions, MAX_MESSAGE_BYTES } from "./subscriptions";
import { errorHandler, notFoundHandler } from "./errorHandler";

export interface RunningServer {
  url: string;
  port: number;
  httpServer: http.Server;
  /** How queries are executed (and how many took which path). */
  execution: CompiledExecution;
  stop(): Promise<void>;
}

/** The HTTP face of the registry: GraphQL at /graphql (more routes join here). */
/** How long an idle kept-alive connection stays open on the server's side. */
const IDLE_CONNECTION_MS = 65_000;

export async function startServer(config: Config, services: Services, logger: Logger): Promise<RunningServer> {
  const app = express();
  app.disable("x-powered-by");
  const httpServer = http.createServer(app);
  // An idle kept-alive connection is closed by the client first: clients keep them 4 s (undici)
  // to 60 s (proxies), and a client whose loop was busy past its own timer sends its next
  // request on the old connection. Had the server closed it at Node's default 5 s, that request —
  // typically a large upload — would die with ECONNRESET. Header reading must outlast it.
  httpServer.keepAliveTimeout = IDLE_CONNECTION_MS;
  httpServer.headersTimeout = IDLE_CONNECTION_MS + 1_000;
  const schema = await buildAppSchema();

  const formatError = createFormatError(logger, {
    debug: config.debug,
    databaseDown: (error) => services.outages.database.failed(error, "requests answer SERVICE_UNAVAILABLE until it is back"),
  });
  const subscriptions = attachSubscriptions(httpServer, schema, config, services, logger, formatError);

  const execution = new CompiledExecution(schema);
  if (config.responseCacheEntries > 0) execution.cache = new ResponseCache(schema, services.dataVersion, config.responseCacheEntries);
  const apollo = new ApolloServer<GraphQLContext>({
    // Queries run compiled (graphql-jit), the rest through graphql-js; parsing, validation, the
    // plugins below and error formatting are Apollo's either way.
    gateway: execution.apolloGateway(),
    introspection: true,
    formatError,
    ...(execution.cache ? { stringifyResult: execution.cache.stringify.bind(execution.cache) } : {}),
    includeStacktraceInErrorResponses: config.debug,
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      // Apollo installs its cache-control plugin by default; it hooks every field a query
      // resolves (a quarter of the execution time of a large page) to compute cache hints this
      // schema never declares — responses here are not cached by hints (read-only queries are
      // cached by the database's data version instead: see ResponseCache).
      ApolloServerPluginCacheControlDisabled(),
      { async serverWillStart() { return { async drainServer() { await subscriptions.dispose(); } }; } },
      limitsPlugin(schema, { maxDepth: config.maxQueryDepth, maxComplexity: config.maxQueryComplexity }, (error) =>
        logger.error({ err: error }, "the cost of a query could not be estimated"),
      ),
      metricsPlugin(services.metrics),
      serviceUnavailablePlugin(),
    ],
  });
  await apollo.start();

  app.use(hostCheck(config));
  app.use(cors(config.corsOrigins));
  app.get("/healthz", async (_req, res) => {
    const health = await services.health();
    const ok = Object.values(health).every((v) => v === "ok");
    if (!ok) logger.warn({ health }, "health check failed");
    res.status(ok ? 200 : 503).json({ status: ok ? "ok" : "unavailable", ...health });
  });
  app.get("/metrics", async (req, res) => {
    if (!checkMetricsAuth(config.metricsToken, req, res)) return;
    res.setHeader("Content-Type", services.metrics.registry.contentType);
    res.send(await services.metrics.registry.metrics());
  });
  app.use(artifactRoutes(config, services, logger));
  app.use(
    "/graphql",
    express.json({ limit: MAX_MESSAGE_BYTES }),
    expressMiddleware(apollo, {
      context: async ({ req }) => {
        let viewer;
        try {
          viewer = await authenticate(req.headers, config.auth, services.tokens);
        } catch (error) {
          if (error instanceof DomainError) {
            throw new GraphQLError(error.message, { extensions: { code: error.code, http: { status: 401 } } });
          }
          if (isDatabaseUnreachable(error)) {
            services.outages.database.failed(error, "requests answer SERVICE_UNAVAILABLE until it is back");
            throw new GraphQLError("the database is unreachable; try again shortly", { extensions: { code: "SERVICE_UNAVAILABLE", http: { status: 503 } } });
          }
          throw error;
        }
        return { services, loaders: services.createLoaders(), viewer, requestId: randomUUID() };
      },
    }),
  );
  app.use(webRoutes());
  app.use(notFoundHandler());
  app.use(errorHandler(logger));

  await new Promise<void>((resolve, reject) => {
    httpServer.once("error", reject);
    httpServer.listen(config.port, config.host, () => resolve());
  });
  const address = httpServer.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  const hostForUrl = config.host.includes(":") ? `[${config.host}]` : config.host;
  return {
    url: `http://${hostForUrl}:${port}/graphql`,
    port,
    httpServer,
    execution,
    async stop() {
      await apollo.stop();
    },
  };
}
