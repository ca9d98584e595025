# Multi-stage: build with the toolchain (better-sqlite3 compiles from source), run as non-root.
FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json prisma.config.ts tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY prisma ./prisma
COPY src ./src
COPY bin ./bin
COPY web ./web
RUN npm ci --no-audit --no-fund && npm prune --omit=dev --ignore-scripts

FROM node:20-bookworm-slim
WORKDIR /app
# Listening on every interface, the image requires tokens for writes (LAYERMERGE_AUTH=off on a
# non-loopback HOST refuses to start unless LAYERMERGE_ALLOW_OPEN=1). A worker serves its
# /healthz and /metrics on LAYERMERGE_METRICS_PORT, which the health check probes.
ENV NODE_ENV=production HOST=0.0.0.0 PORT=4000 LAYERMERGE_DATA_DIR=/var/lib/layermerge LAYERMERGE_AUTH=writes LAYERMERGE_METRICS_PORT=9464
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY --from=build /app/prisma/migrations ./prisma/migrations
COPY --from=build /app/web/dist ./web/dist
RUN mkdir -p /var/lib/layermerge && chown node:node /var/lib/layermerge
USER node
EXPOSE 4000 9464
# The API's /healthz on PORT, or a worker's on LAYERMERGE_METRICS_PORT (see bin/healthcheck.js).
HEALTHCHECK --interval=15s --timeout=5s --retries=5 CMD ["node", "bin/healthcheck.js"]
CMD ["node", "bin/layermerge.js", "serve"]
