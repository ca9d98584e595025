import { badInput } from "../core/errors";

/** Page size rules shared by every connection: default 50, at most 500. */
export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;

export function pageSize(first: number | null | undefined, field = "first", max = MAX_PAGE_SIZE, fallback = DEFAULT_PAGE_SIZE): number {
  if (first == null) return fallback;
  if (!Number.isInteger(first) || first < 0) throw badInput(`${field} must be a non-negative integer (got ${first})`, field);
  if (first > max) throw badInput(`${field} must be at most ${max} (got ${first}); page with 'after' for more`, field);
  return first;
}

/**
 * Opaque cursors: base64url of [sortValue, id]. Keyset paging (sortValue, id) stays stable
 * while rows are inserted, unlike offsets.
 */
export type CursorValue = string | number | null;

export function encodeCursor(value: CursorValue, id: string): string {
  return Buffer.from(JSON.stringify([value, id])).toString("base64url");
}

export function decodeCursor(cursor: string | null | undefined, field = "after"): { value: CursorValue; id: string } | null {
  if (cursor == null || cursor === "") return null;
  try {
    const parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (Array.isArray(parsed) && parsed.length === 2 && typeof parsed[1] === "string") {
      const [value, id] = parsed;
      if (value === null || typeof value === "string" || typeof value === "number") return { value, id };
    }
  } catch {
    // fall through to the error below
  }
  throw badInput(`${field} is not a cursor returned by this API`, field);
}

export interface PageInfo {
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  startCursor: string | null;
  endCursor: string | null;
}

export interface Connection<T> {
  edges: Array<{ cursor: string; node: T }>;
  pageInfo: PageInfo;
  /** A promise when counted lazily (see connectionFrom); GraphQL awaits either. */
  totalCount: number | Promise<number>;
}

/**
 * Builds a connection from `first + 1` fetched rows (the extra row only says there is more).
 * `totalCount` may be a function: it then runs on the first read of `totalCount` (once), so that
 * a query that does not select the field never counts — on a million models the count costs
 * more than the page.
 */
export function connectionFrom<T>(rows: T[], first: number, after: boolean, totalCount: number | (() => Promise<number>), cursorOf: (row: T) => string): Connection<T> {
  const page = rows.slice(0, first);
  const edges = page.map((node) => ({ cursor: cursorOf(node), node }));
  const pageInfo = {
    hasNextPage: rows.length > first,
    hasPreviousPage: after,
    startCursor: edges[0]?.cursor ?? null,
    endCursor: edges[edges.length - 1]?.cursor ?? null,
  };
  if (typeof totalCount === "number") return { edges, totalCount, pageInfo };
  let counted: Promise<number> | undefined;
  return {
    edges,
    pageInfo,
    get totalCount() {
      return (counted ??= totalCount());
    },
  };
}

/**
 * The Prisma `where` that continues after a cursor for ordering by (field, id) in `direction`.
 * Date fields travel in cursors as ISO strings.
 */
export function keysetAfter(field: string, direction: "asc" | "desc", cursor: { value: CursorValue; id: string } | null, isDate = false): Record<string, unknown> {
  if (!cursor) return {};
  const op = direction === "asc" ? "gt" : "lt";
  const value = isDate && typeof cursor.value === "string" ? new Date(cursor.value) : cursor.value;
  return { OR: [{ [field]: { [op]: value } }, { [field]: value, id: { [op]: cursor.id } }] };
}
