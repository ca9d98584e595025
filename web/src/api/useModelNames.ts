import { useQuery } from "./useQuery";

/**
 * "name@version" of a few models by id, in one request (one aliased model(id) per id; a search
 * pool has at most 32). Unknown or deleted ids are left out.
 */
export function useModelNames(ids: string[]): Map<string, string> {
  const unique = [...new Set(ids)].sort();
  const query = unique.length
    ? `query Names(${unique.map((_, i) => `$m${i}: ID!`).join(", ")}) { ${unique.map((_, i) => `m${i}: model(id: $m${i}) { id name version }`).join(" ")} }`
    : "{ __typename }";
  const variables = Object.fromEntries(unique.map((id, i) => [`m${i}`, id]));
  const result = useQuery<Record<string, { id: string; name: string; version: string } | null>>(query, variables, { skip: !unique.length, keepPrevious: true });
  const names = new Map<string, string>();
  for (const model of Object.values(result.data ?? {})) if (model && typeof model === "object") names.set(model.id, model.name);
  return names;
}
