import * as http from "node:http";
import { randomUUID } from "node:crypto";
import express from "express";
import { ApolloServer } from "@apollo/server";
import { expressMiddleware } from "@as-integrations/express5";
import { ApolloServerPluginDrainHttpServer } from "@apollo/server/plugin/drainHttpServer";
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
import type { GraphQLContext } from "../graphql/context";
import { authenticate } from "./authenticate";
import { cors } from "./cors";
import { artifactRoutes } from "./artifactRoutes";
import { webRoutes } from "./webRoutes";
import { WebSocketServer } from "ws";
import { useServer } from "graphql-ws/use/ws";

export interface RunningServer {
  url: string;
  port: number;
  httpServer: http.Server;
  stop(): Promise<void>;
}

/** The HTTP face of the registry: GraphQL at /graphql (more routes join here). */
export async function startServer(config: Config, services: Services, logger: Logger): Promise<RunningServer> {
  const app = express();
  app.disable("x-powered-by");
  const httpServer = http.createServer(app);
  const schema = await buildAppSchema();

  // Subscriptions (jobUpdated) over graphql-ws on the same path; the token travels in the
  // connection parameters ({ authorization: "Bearer …" }) since browsers cannot set headers.
  const wsServer = new WebSocketServer({ server: httpServer, path: "/graphql" });
  const wsCleanup = useServer(
    {
      schema,
      context: async (ctx) => {
        const authorization = (ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization) as string | undefined;
        const viewer = await authenticate(authorization ? { authorization } : {}, config.auth, services.tokens);
        return { services, loaders: services.createLoaders(), viewer, requestId: randomUUID() } satisfies GraphQLContext;
      },
      onConnect: async (ctx) => {
        const authorization = (ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization) as string | undefined;
        try {
          await authenticate(authorization ? { authorization } : {}, config.auth, services.tokens);
          return true;
        } catch {
          return false;
        }
      },
    },
    wsServer,
  );

  const apollo = new ApolloServer<GraphQLContext>({
    schema,
    introspection: true,
    formatError: createFormatError(logger, (error) => services.outages.database.failed(error, "requests answer SERVICE_UNAVAILABLE until it is back")),
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      { async serverWillStart() { return { async drainServer() { await wsCleanup.dispose(); } }; } },
      limitsPlugin(schema, { maxDepth: config.maxQueryDepth, maxComplexity: config.maxQueryComplexity }),
      metricsPlugin(services.metrics),
      serviceUnavailablePlugin(),
    ],
  });
  await apollo.start();

  app.use(cors(config.corsOrigins));
  app.get("/healthz", async (_req, res) => {
    const health = await services.health();
    const ok = Object.values(health).every((v) => v === "ok");
    if (!ok) logger.warn({ health }, "health check failed");
    res.status(ok ? 200 : 503).json({ status: ok ? "ok" : "unavailable", ...health });
  });
  app.get("/metrics", async (_req, res) => {
    res.setHeader("Content-Type", services.metrics.registry.contentType);
    res.send(await services.metrics.registry.metrics());
  });
  app.use(artifactRoutes(config, services, logger));
  app.use(
    "/graphql",
    express.json({ limit: "2mb" }),
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
    async stop() {
      await apollo.stop();
    },
  };
}
