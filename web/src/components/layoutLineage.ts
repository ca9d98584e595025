import { graphlib, layout } from "@dagrejs/dagre";

export interface LineageNodeInput {
  id: string;
  name: string;
  version: string;
  origin: string;
}
export interface LineageEdgeInput {
  id: string;
  parentId: string;
  childId: string;
  relation: string;
  weight: number | null;
}
export interface PlacedNode extends LineageNodeInput {
  x: number;
  y: number;
  width: number;
  height: number;
}
export interface PlacedEdge extends LineageEdgeInput {
  points: Array<{ x: number; y: number }>;
  label: string;
  labelX: number;
  labelY: number;
}

const NODE_HEIGHT = 44;
const CHAR_WIDTH = 7.4;

/** MERGED_FROM edges carry the parent's mean effective weight; the label says so as a number. */
export function edgeLabel(edge: Pick<LineageEdgeInput, "relation" | "weight">): string {
  const relation = edge.relation.toLowerCase().replace(/_from$|_of$/, "").replace(/_/g, " ");
  return edge.weight === null ? relation : `${relation} w=${edge.weight.toFixed(3)}`;
}

/**
 * Left-to-right layered layout (dagre: parents left, children right), with room for the edge
 * labels so they never sit on a node. Sizes follow the label text; coordinates are SVG pixels.
 */
export function layoutLineage(nodes: LineageNodeInput[], edges: LineageEdgeInput[]): { nodes: PlacedNode[]; edges: PlacedEdge[]; width: number; height: number } {
  const g = new graphlib.Graph({ multigraph: true });
  g.setGraph({ rankdir: "LR", nodesep: 22, ranksep: 70, edgesep: 14, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const node of nodes) {
    const text = Math.max(`${node.name}@${node.version}`.length, node.origin.length + 2);
    g.setNode(node.id, { width: Math.min(260, Math.max(110, text * CHAR_WIDTH + 24)), height: NODE_HEIGHT });
  }
  const known = new Set(nodes.map((n) => n.id));
  const kept = edges.filter((e) => known.has(e.parentId) && known.has(e.childId));
  for (const edge of kept) {
    const label = edgeLabel(edge);
    g.setEdge(edge.parentId, edge.childId, { width: label.length * 6.2 + 8, height: 16, labelpos: "c" }, edge.id);
  }
  layout(g);
  const placed = nodes.map((node) => {
    const n = g.node(node.id);
    return { ...node, x: n.x, y: n.y, width: n.width, height: n.height };
  });
  const placedEdges = kept.map((edge) => {
    const e = g.edge({ v: edge.parentId, w: edge.childId, name: edge.id });
    return { ...edge, points: e.points ?? [], label: edgeLabel(edge), labelX: e.x ?? 0, labelY: e.y ?? 0 };
  });
  const graph = g.graph();
  return { nodes: placed, edges: placedEdges, width: graph.width ?? 0, height: graph.height ?? 0 };
}
