import { useQuery } from "./useQuery";

export interface Catalog {
  tasks: Array<{ id: string; key: string; name: string; kind: string; primaryMetric: string }>;
  backbones: Array<{ id: string; name: string }>;
  datasets: { edges: Array<{ node: { id: string; name: string; split: string; domain: string | null; task: { id: string; kind: string; primaryMetric: string } } }> };
}

/** Tasks, backbones and datasets: the choices of the filter and picker menus. */
export function useCatalog() {
  return useQuery<Catalog>(`{
    tasks { id key name kind primaryMetric }
    backbones { id name }
    datasets(first: 500, orderBy: { field: NAME, direction: ASC }) { edges { node { id name split domain task { id kind primaryMetric } } } }
  }`);
}

export function datasetLabel(d: { name: string; split: string }): string {
  return `${d.name} (${d.split})`;
}
