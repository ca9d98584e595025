import { useMemo } from "react";
import { navigate } from "../router";
import { layoutLineage, type LineageEdgeInput, type LineageNodeInput } from "./layoutLineage";

const short = (text: string) => (text.length > 32 ? `${text.slice(0, 31)}…` : text);

/**
 * The lineage as an SVG drawing. Each node is a link (keyboard-focusable, Enter opens the
 * model); the model on screen is outlined.
 */
export function LineageGraph({ nodes, edges, currentId }: { nodes: LineageNodeInput[]; edges: LineageEdgeInput[]; currentId: string }) {
  const laid = useMemo(() => layoutLineage(nodes, edges), [nodes, edges]);
  return (
    <div className="graph-scroll">
      <svg className="lineage" width={laid.width} height={laid.height} viewBox={`0 0 ${laid.width} ${laid.height}`} role="img" aria-label={`Lineage graph: ${nodes.length} models, ${edges.length} edges`}>
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" className="arrow-head" />
          </marker>
        </defs>
        {laid.edges.map((edge) => (
          <g key={edge.id} className={`edge rel-${edge.relation.toLowerCase()}`} data-testid="lineage-edge">
            <path d={edge.points.map((p, i) => `${i ? "L" : "M"}${p.x},${p.y}`).join(" ")} markerEnd="url(#arrow)" />
            <text x={edge.labelX} y={edge.labelY + 4} textAnchor="middle" className="edge-label">
              {edge.label}
            </text>
          </g>
        ))}
        {laid.nodes.map((node) => {
          const to = `/models/${node.id}?tab=lineage`;
          return (
            <a
              key={node.id}
              href={to}
              className={`node origin-${node.origin.toLowerCase()}${node.id === currentId ? " current" : ""}`}
              data-testid="lineage-node"
              aria-label={`${node.name} version ${node.version}, ${node.origin.toLowerCase()}${node.id === currentId ? " (this model)" : ""}`}
              onClick={(event) => {
                if (event.button !== 0 || event.metaKey || event.ctrlKey) return;
                event.preventDefault();
                navigate(to);
              }}
            >
              <rect x={node.x - node.width / 2} y={node.y - node.height / 2} width={node.width} height={node.height} rx={6} />
              <text x={node.x} y={node.y - 3} textAnchor="middle" className="node-name">
                {short(`${node.name}@${node.version}`)}
              </text>
              <title>{`${node.name}@${node.version}`}</title>
              <text x={node.x} y={node.y + 13} textAnchor="middle" className="node-origin">
                {node.origin.toLowerCase()}
              </text>
            </a>
          );
        })}
      </svg>
    </div>
  );
}
