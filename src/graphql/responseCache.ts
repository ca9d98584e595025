import { DocumentNode, ExecutionResult, getOperationAST, GraphQLSchema, Kind, TypeInfo, visit, visitWithTypeInfo, BREAK } from "graphql";

/**
 * The fields a cached response may contain: each is a pure function of committed database rows
 * (and its arguments), read through the loaders or the read services, with nothing from the
 * clock, the artifact store, Redis, the job queue or the viewer. A query that selects any other
 * field (jobs, searches, artifacts, tokens, plans, candidates, `viewer`, …) always runs.
 * `"*"` allows every field of a type whose fields are all columns or such reads.
 */
export const CACHEABLE_FIELDS: Readonly<Record<string, "*" | readonly string[]>> = {
  Query: ["models", "model", "leaderboard", "lineage", "tasks", "task", "backbones", "backbone", "datasets", "dataset", "evaluation", "mergeMethods"],
  Model: [
    "id", "name", "version", "description", "origin", "architecture", "udaStrategy", "inference", "graphModelId", "createdAt", "updatedAt", "deletedAt",
    "task", "backbone", "sourceDataset", "targetDataset", "tags", "parentEdges", "childEdges", "parents", "children", "graphModel",
    "structure", "score", "evaluations", "merge",
  ],
  ModelConnection: "*",
  ModelEdge: "*",
  PageInfo: "*",
  Task: "*",
  Backbone: "*",
  Dataset: "*",
  DatasetConnection: "*",
  DatasetEdge: "*",
  LineageGraph: "*",
  LineageEdge: "*",
  LeaderboardConnection: "*",
  LeaderboardEdge: "*",
  LeaderboardEntry: "*",
  Evaluation: ["id", "score", "createdAt", "dataset", "model", "canonical", "source", "external", "metrics", "perClass", "settings", "settingsHash", "images", "durationMs"],
  Merge: ["id", "createdAt", "method", "params", "recipeHash", "anchor", "outputModel", "inputs", "gain"],
  MergeInputInfo: "*",
  MergeGain: "*",
  ParentGain: "*",
  Structure: ["id", "hash", "format", "tensorCount", "mergeableTensorCount", "parameterCount", "parameterCountByDtype", "layerCount", "layerOrderSource", "generatedNameCount", "groups"],
  StructureGroup: "*",
  MergeMethodInfo: "*",
  DatasetClass: "*",
};

function allowed(type: string, field: string): boolean {
  if (field === "__typename") return true;
  const fields = CACHEABLE_FIELDS[type];
  return fields === "*" || (fields !== undefined && fields.includes(field));
}

/**
 * Whether an operation's response may be cached: a query whose every field (fragments
 * included, whatever their type condition) is one of the allowed ones. Unknown fields make it
 * uncacheable too (validation has already refused them; this never guesses).
 */
export function isCacheable(schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined): boolean {
  const operation = getOperationAST(document, operationName);
  if (!operation || operation.operation !== "query") return false;
  let cacheable = true;
  const typeInfo = new TypeInfo(schema);
  visit(document, visitWithTypeInfo(typeInfo, {
    [Kind.FIELD](node) {
      const parent = typeInfo.getParentType();
      if (!parent || !allowed(parent.name, node.name.value)) {
        cacheable = false;
        return BREAK;
      }
      return undefined;
    },
  }));
  return cacheable;
}

/** What the response cache did for a request (the `x-layermerge-cache` header). */
export type CacheStatus = "hit" | "miss" | "bypass" | "uncacheable";

export interface CachedRequest {
  document: DocumentNode;
  operationName: string | null | undefined;
  /** Apollo's hash of the query text: with the operation name, the document's identity. */
  queryHash: string;
  variables: Record<string, unknown> | undefined;
  /** Who asks: responses are never shared between viewers (role, token). */
  viewer: string;
  /** The client sent `Cache-Control: no-cache`: compute afresh (the fresh response is kept). */
  noCache: boolean;
}

interface Entry {
  version: string;
  result: ExecutionResult;
  /** The length of its serialized body (what it holds, roughly, in memory). */
  bytes: number;
}

/** A response whose body is larger than this is served but not kept (a 500-model page is ~0.5 MB). */
const MAX_ENTRY_BYTES = 4 << 20;
/** What all kept responses may hold together: the least recently used go first past it. */
const MAX_TOTAL_BYTES = 64 << 20;

/**
 * Whole responses of read-only dashboard queries, each kept with the database's data version
 * it was computed at (see `Database.dataVersion`) and served again only while that version is
 * current — i.e. while no transaction has committed anywhere, by this process, its job runner,
 * another API process or anyone else on the database. So a cached answer is exactly the answer a
 * fresh execution would give: there is no time-to-live and nothing is ever stale.
 *
 * A response is kept only if the version was the same before and after computing it (no commit
 * landed while its statements ran) and it has no errors. Entries are bounded in number and in
 * bytes (least recently used go first; one larger than MAX_ENTRY_BYTES is not kept); a response
 * is reused by reference, frozen, and its body serialized once.
 */
export class ResponseCache {
  private readonly entries = new Map<string, Entry>();
  private totalBytes = 0;
  private readonly cacheable = new WeakMap<DocumentNode, Map<string, boolean>>();
  private readonly serialized = new WeakMap<object, string>();
  readonly counts = { hit: 0, miss: 0, bypass: 0, uncacheable: 0 };

  constructor(
    private readonly schema: GraphQLSchema,
    /** The database's data version now; null when it cannot be told (nothing is cached then). */
    private readonly dataVersion: () => Promise<string | null>,
    private readonly maxEntries: number,
  ) {}

  async respond(request: CachedRequest, run: () => Promise<ExecutionResult>): Promise<{ result: ExecutionResult; status: CacheStatus }> {
    if (this.maxEntries === 0 || !this.isCacheable(request.document, request.operationName)) {
      this.counts.uncacheable++;
      return { result: await run(), status: "uncacheable" };
    }
    const key = `${request.queryHash}\u0000${request.operationName ?? ""}\u0000${request.viewer}\u0000${JSON.stringify(request.variables ?? {})}`;
    const before = await this.dataVersion();
    if (!request.noCache && before !== null) {
      const entry = this.entries.get(key);
      if (entry && entry.version === before) {
        // Most recently used last.
        this.entries.delete(key);
        this.entries.set(key, entry);
        this.counts.hit++;
        return { result: entry.result, status: "hit" };
      }
    }
    const result = await run();
    if (before !== null && !result.errors && !result.extensions) {
      const after = await this.dataVersion();
      if (after === before) {
        // Serialized now, as Apollo will write it: the size decides whether it is kept, and the
        // text is what `stringify` answers for it from then on.
        const text = JSON.stringify({ data: result.data }) + "\n";
        if (text.length <= MAX_ENTRY_BYTES) {
          const kept = deepFreeze(result);
          this.serialized.set(kept.data as object, text);
          this.keep(key, { version: before, result: kept, bytes: text.length });
        }
      }
    }
    const status = request.noCache ? "bypass" : "miss";
    this.counts[status]++;
    return { result, status };
  }

  /**
   * A response's body as Apollo writes it (its JSON and a newline). A cached response's data is
   * deeply frozen, so its text cannot change either and is written once per entry.
   */
  stringify(value: { data?: unknown; errors?: unknown; extensions?: unknown }): string {
    const data = value.data;
    if (value.errors !== undefined || value.extensions !== undefined || data === null || typeof data !== "object" || !Object.isFrozen(data)) return JSON.stringify(value) + "\n";
    let text = this.serialized.get(data);
    if (text === undefined) this.serialized.set(data, (text = JSON.stringify(value) + "\n"));
    return text;
  }

  private keep(key: string, entry: Entry): void {
    this.forget(key);
    this.entries.set(key, entry);
    this.totalBytes += entry.bytes;
    while (this.entries.size > this.maxEntries || this.totalBytes > MAX_TOTAL_BYTES) this.forget(this.entries.keys().next().value!);
  }

  private forget(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.totalBytes -= entry.bytes;
  }

  /** Responses kept and the bytes of their bodies. */
  get size(): { entries: number; bytes: number } {
    return { entries: this.entries.size, bytes: this.totalBytes };
  }

  private isCacheable(document: DocumentNode, operationName: string | null | undefined): boolean {
    let byName = this.cacheable.get(document);
    if (!byName) this.cacheable.set(document, (byName = new Map()));
    const name = operationName ?? "";
    let cacheable = byName.get(name);
    if (cacheable === undefined) byName.set(name, (cacheable = isCacheable(this.schema, document, operationName)));
    return cacheable;
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value as Record<string, unknown>)) deepFreeze(child);
  }
  return value;
}
