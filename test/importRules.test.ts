import * as fs from "node:fs";
import * as path from "node:path";

/*
 * The layering docs/ARCHITECTURE.md describes, checked on every import under src/: which folder
 * may import which, where the heavy dependencies may be imported, and who reads the environment.
 * A new top-level folder fails here until it is given its rule.
 */
const SRC = path.resolve(__dirname, "..", "src");

/** Each top-level part of src/ (a folder, or a file such as main.ts) and the parts it may import. */
const MAY_IMPORT: Record<string, string[]> = {
  core: [],
  domain: ["core"],
  config: ["core"],
  logging: [],
  imaging: ["core"],
  runtime: ["core", "domain", "imaging"],
  storage: ["core", "config"],
  threads: ["core", "imaging", "runtime", "storage"],
  persistence: ["core", "config"],
  outage: ["config", "logging"],
  metrics: ["persistence"],
  jobs: ["core", "domain", "logging", "outage", "persistence"],
  services: ["core", "domain", "config", "imaging", "jobs", "logging", "metrics", "outage", "persistence", "runtime", "storage", "threads"],
  graphql: ["core", "domain", "jobs", "logging", "metrics", "persistence", "services"],
  http: ["core", "domain", "config", "graphql", "logging", "persistence", "services", "storage"],
  main: ["config", "http", "jobs", "logging", "outage", "persistence", "services"],
  cli: ["config", "core", "graphql", "main", "outage", "persistence", "services"],
};

/** Packages only some parts may import (a package name, or a scope ending in "/"). */
const ONLY_IN: Array<[string, string[]]> = [
  ["onnxruntime-node", ["runtime"]],
  ["@prisma/", ["persistence"]],
  ["better-sqlite3", ["persistence"]],
  ["pg", ["persistence"]],
  ["graphql", ["graphql", "http"]],
  ["type-graphql", ["graphql"]],
  ["@apollo/", ["graphql", "http"]],
  ["express", ["http"]],
  ["bullmq", ["jobs"]],
  ["ioredis", ["jobs", "services"]],
  ["sharp", ["imaging", "runtime"]],
  ["@aws-sdk/", ["storage"]],
];

/** Parts whose code never reads process.env: configuration reaches them from config/. */
const NO_ENVIRONMENT = ["core", "domain", "services", "graphql", "http", "jobs", "runtime", "persistence", "imaging"];

interface SourceFile {
  file: string;
  part: string;
  text: string;
}

function sources(): SourceFile[] {
  const out: SourceFile[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (full !== path.join(SRC, "persistence", "generated")) walk(full);
      } else if (/\.tsx?$/.test(entry.name)) {
        out.push({ file: path.relative(SRC, full), part: partOf(full), text: fs.readFileSync(full, "utf8") });
      }
    }
  };
  walk(SRC);
  return out;
}

/** `core` for src/core/…, `main` for src/main.ts; null outside src/. */
function partOf(absolute: string): string {
  const [first] = path.relative(SRC, absolute).split(path.sep);
  return first!.replace(/\.tsx?$/, "");
}

/** Every module specifier: static and type imports, re-exports, side-effect imports, require() and import(). */
export function specifiers(text: string): string[] {
  const found: string[] = [];
  // `from` only ends an import or export statement (a comment saying `up from "w"` is not one).
  const patterns = [/^\s*(?:import|export)\b[^;]*?\bfrom\s+["']([^"']+)["']/gm, /^\s*import\s+["']([^"']+)["']/gm, /\brequire\(\s*["']([^"']+)["']\s*\)/g, /\bimport\(\s*["']([^"']+)["']\s*\)/g];
  for (const pattern of patterns) for (const m of text.matchAll(pattern)) found.push(m[1]!);
  return found;
}

function packageOf(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]!;
}

describe("import rules (docs/ARCHITECTURE.md)", () => {
  const files = sources();

  test("the specifier scan sees every form of import", () => {
    const text = `import a from "./a";\nimport type {\n  B,\n  C,\n} from "../b";\nexport { c } from "./c";\nimport "reflect-metadata";\nconst d = require("./d");\nconst e = await import("./e");\n// a comment: up from "w"'s graph`;
    expect(specifiers(text).sort()).toEqual(["../b", "./a", "./c", "./d", "./e", "reflect-metadata"]);
  });

  test("every part of src/ has a rule, and the allowed imports have no cycle", () => {
    expect([...new Set(files.map((f) => f.part))].filter((p) => !(p in MAY_IMPORT))).toEqual([]);
    const visiting = new Set<string>();
    const done = new Set<string>();
    const visit = (part: string, trail: string[]) => {
      if (done.has(part)) return;
      if (visiting.has(part)) throw new Error(`cycle: ${[...trail, part].join(" → ")}`);
      visiting.add(part);
      for (const next of MAY_IMPORT[part]!) visit(next, [...trail, part]);
      visiting.delete(part);
      done.add(part);
    };
    for (const part of Object.keys(MAY_IMPORT)) visit(part, []);
  });

  test("each part imports only the parts below it", () => {
    const violations: string[] = [];
    for (const f of files) {
      for (const spec of specifiers(f.text)) {
        if (!spec.startsWith(".")) continue;
        const target = path.resolve(SRC, path.dirname(f.file), spec);
        if (!target.startsWith(SRC + path.sep)) continue; // scripts/ and the like, outside the layers
        const to = partOf(target);
        if (to !== f.part && !MAY_IMPORT[f.part]?.includes(to)) violations.push(`${f.file} imports ${spec} (${f.part} → ${to})`);
      }
    }
    expect(violations).toEqual([]);
  });

  test("heavy dependencies are imported only where they belong (onnxruntime in runtime/, Prisma in persistence/, GraphQL in graphql/ and http/…)", () => {
    const violations: string[] = [];
    for (const f of files) {
      for (const spec of specifiers(f.text)) {
        if (spec.startsWith(".") || spec.startsWith("node:")) continue;
        const pkg = packageOf(spec);
        for (const [name, parts] of ONLY_IN) {
          const matches = name.endsWith("/") ? pkg.startsWith(name) : pkg === name;
          if (matches && !parts.includes(f.part)) violations.push(`${f.file} imports ${spec} (only ${parts.join(", ")} may)`);
        }
      }
    }
    expect(violations).toEqual([]);
  });

  test("core/ imports nothing but Node's built-ins, itself and pure data libraries", () => {
    const builtins = new Set(require("node:module").builtinModules as string[]);
    // Pure parsers with no I/O, no native code and no framework: `yaml` reads and writes mergekit configs.
    const pureLibraries = new Set(["yaml"]);
    const outside = files
      .filter((f) => f.part === "core")
      .flatMap((f) => specifiers(f.text).filter((s) => !s.startsWith(".") && !s.startsWith("node:") && !builtins.has(s) && !pureLibraries.has(s)).map((s) => `${f.file} imports ${s}`));
    expect(outside).toEqual([]);
  });

  test("services, core, the API and the job layer never read process.env", () => {
    const readers = files.filter((f) => NO_ENVIRONMENT.includes(f.part) && !/\.test\.tsx?$/.test(f.file) && /\bprocess\.env\b/.test(f.text)).map((f) => f.file);
    expect(readers).toEqual([]);
  });
});
