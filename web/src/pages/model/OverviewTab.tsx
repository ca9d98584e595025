import { bytes, count, date } from "../../format";
import { Link } from "../../router";

export const MODEL_DETAIL = `id name version origin description architecture udaStrategy tags createdAt updatedAt deletedAt
  task { key name kind primaryMetric }
  backbone { name family parameterPrefix }
  sourceDataset { id name split }
  targetDataset { id name split }
  artifact { sha256 format sizeBytes }
  inference { inputName width height channelOrder mean std normalization resize { mode cropSize stride } outputs { name kind } inferred notes missing
    postprocess { centerActivation centerThreshold labelDivisor nmsKernel offsetOrder stuffArea thingArea topK } }
  structure { id hash format tensorCount parameterCount layerCount layerOrderSource generatedNameCount }
  merge { id method }
  parents { id name version }
  children { id name version }
  graphModel { id name version }`;

export interface ModelRef {
  id: string;
  name: string;
  version: string;
}
export interface ModelDetail {
  id: string;
  name: string;
  version: string;
  origin: string;
  description: string | null;
  architecture: string | null;
  udaStrategy: string | null;
  tags: string[];
  createdAt: string;
  updatedAt: string;
  deletedAt: string | null;
  task: { key: string; name: string; kind: string; primaryMetric: string };
  backbone: { name: string; family: string | null; parameterPrefix: string | null } | null;
  sourceDataset: { id: string; name: string; split: string } | null;
  targetDataset: { id: string; name: string; split: string } | null;
  artifact: { sha256: string; format: string; sizeBytes: number } | null;
  inference: {
    inputName: string;
    width: number;
    height: number;
    channelOrder: string;
    mean: number[];
    std: number[];
    normalization: string;
    resize: { mode: string; cropSize: number[] | null; stride: number[] | null };
    outputs: Array<{ name: string; kind: string }>;
    postprocess: Record<string, string | number> | null;
    inferred: boolean;
    notes: string[];
    missing: string[];
  } | null;
  structure: { id: string; hash: string; format: string; tensorCount: number; parameterCount: number; layerCount: number; layerOrderSource: string; generatedNameCount: number } | null;
  merge: { id: string; method: string } | null;
  parents: ModelRef[];
  /** The ONNX model a checkpoint is evaluated through. */
  graphModel: ModelRef | null;
  children: ModelRef[];
}

function Field({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <>
      <dt>{label}</dt>
      <dd>{children ?? "—"}</dd>
    </>
  );
}

const refs = (models: ModelRef[]) =>
  models.length
    ? models.map((m, i) => (
        <span key={m.id}>
          {i ? ", " : ""}
          <Link to={`/models/${m.id}`}>{m.name}@{m.version}</Link>
        </span>
      ))
    : "—";

export function OverviewTab({ model }: { model: ModelDetail }) {
  const c = model.inference;
  return (
    <div className="columns">
      <div className="card">
        <h2>Metadata</h2>
        <dl className="fields">
          <Field label="Task">{model.task.name} ({model.task.key}, {model.task.primaryMetric === "PQ" ? "PQ" : "mIoU"})</Field>
          <Field label="Architecture">{model.architecture}</Field>
          <Field label="Backbone">{model.backbone ? `${model.backbone.name}${model.backbone.family ? ` (${model.backbone.family})` : ""}` : null}</Field>
          <Field label="UDA strategy">{model.udaStrategy}</Field>
          <Field label="Source → target">{model.sourceDataset || model.targetDataset ? `${model.sourceDataset?.name ?? "?"} → ${model.targetDataset?.name ?? "?"}` : null}</Field>
          <Field label="Tags">{model.tags.length ? model.tags.map((t) => <span className="tag" key={t}>{t}</span>) : null}</Field>
          <Field label="Description">{model.description}</Field>
          <Field label="Parents">{refs(model.parents)}</Field>
          <Field label="Children">{refs(model.children)}</Field>
          <Field label="Created">{date(model.createdAt)}</Field>
          <Field label="Weights">{model.artifact ? <>{model.artifact.format}, {bytes(model.artifact.sizeBytes)}, <code className="hash">sha256 {model.artifact.sha256.slice(0, 16)}…</code></> : "not registered from a file"}</Field>
          {model.graphModel || (model.artifact && model.artifact.format !== "onnx") ? <Field label="Evaluated through">{model.graphModel ? refs([model.graphModel]) : "no graph model: set graphModelId to evaluate this checkpoint"}</Field> : null}
          <Field label="Structure">
            {model.structure ? `${count(model.structure.tensorCount)} tensors, ${count(model.structure.parameterCount)} parameters, ${model.structure.layerCount} layers (${model.structure.layerOrderSource.toLowerCase().replace(/_/g, " ")})` : null}
          </Field>
        </dl>
        {model.structure && model.structure.generatedNameCount > 0 ? (
          <p className="state warning">
            {model.structure.generatedNameCount} tensor names were generated by an exporter (like <code>onnx::Conv_12</code>): matching tensors by name with other models is unreliable.
          </p>
        ) : null}
      </div>
      <div className="card">
        <h2>Inference contract</h2>
        {c ? (
          <dl className="fields">
            <Field label="Input">
              <code>{c.inputName}</code>, {c.width}×{c.height}, {c.channelOrder}
            </Field>
            <Field label="Resize">
              {c.resize.mode.toLowerCase().replace("_", " ")}
              {c.resize.cropSize ? `, windows ${c.resize.cropSize.join("×")}` : ""}
              {c.resize.stride ? ` every ${c.resize.stride.join("×")}` : ""}
            </Field>
            <Field label="Mean (0–255)">{c.mean.join(", ")}</Field>
            <Field label="Std (0–255)">{c.std.join(", ")}</Field>
            <Field label="Normalisation">{c.normalization === "MMCV" ? "mmcv imnormalize (× float64 1/std)" : "float32 (x − mean) / std"}</Field>
            <Field label="Outputs">
              {c.outputs.map((o) => (
                <div key={o.name}>
                  <code>{o.name}</code> — {o.kind.toLowerCase().replace(/_/g, " ")}
                </div>
              ))}
            </Field>
            {c.postprocess ? (
              <Field label="Post-processing">
                {Object.entries(c.postprocess)
                  .map(([k, v]) => `${k} ${v}`)
                  .join(", ")}
              </Field>
            ) : null}
          </dl>
        ) : null}
        {c?.inferred ? <p className="muted">Read from the ONNX file at registration; fields given explicitly win.</p> : null}
        {c?.notes.length ? (
          <ul className="muted">
            {c.notes.map((n) => (
              <li key={n}>{n}</li>
            ))}
          </ul>
        ) : null}
        {c?.missing.length ? (
          <p className="state warning">
            Not in the file, so evaluation is refused until given with updateModel: {c.missing.join("; ")}
          </p>
        ) : null}
        {c ? null : (
          <p className="muted">No inference contract recorded; evaluations need one (set it with updateModel).</p>
        )}
      </div>
    </div>
  );
}
