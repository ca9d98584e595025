import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

// Two pages in one build: the dashboard (index.html, client-side routes) and the offline GraphQL
// explorer (graphiql.html, served at /graphiql). Everything is bundled: no CDN at run time.
const here = dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  root: here,
  base: "/",
  logLevel: "warn",
  build: {
    outDir: resolve(here, "dist"),
    emptyOutDir: true,
    chunkSizeWarningLimit: 2000,
    rollupOptions: {
      // GraphiQL's dependencies carry React Server Components' "use client" markers; they mean
      // nothing in a client-only bundle.
      onwarn(warning, warn) {
        if (warning.code === "MODULE_LEVEL_DIRECTIVE") return;
        warn(warning);
      },
      input: {
        main: resolve(here, "index.html"),
        graphiql: resolve(here, "graphiql.html"),
      },
    },
  },
  esbuild: { jsx: "automatic" },
  server: {
    // `npm run dev:web` next to `npm start`: the API stays on its own port.
    proxy: {
      // ws: the jobUpdated subscription (graphql-ws) shares the path.
      "/graphql": { target: "http://127.0.0.1:4000", ws: true },
      "/artifacts": "http://127.0.0.1:4000",
    },
  },
});
