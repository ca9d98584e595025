/** A merge method as `mergeMethods` describes it (the server's method registry). */
export interface MethodInfo {
  name: string;
  title: string;
  description: string;
  arxiv: string;
  paperTitle: string;
  needsBase: boolean;
  defaultSchedule: string;
  parameters: Array<{ name: string; type: string; default: number | null; min: number | null; max: number | null; description: string }>;
}

export const METHODS_QUERY = `{ mergeMethods { name title description arxiv paperTitle needsBase defaultSchedule parameters { name type default min max description } } }`;
