import { useQuery } from "../api/useQuery";
import { Empty, ErrorMessage, Loading } from "../components/States";
import { href, Link, useQueryParams } from "../router";
import { CandidatesTab } from "./model/CandidatesTab";
import { EvaluationsTab } from "./model/EvaluationsTab";
import { LineageTab } from "./model/LineageTab";
import { MergeRecipeTab } from "./model/MergeRecipeTab";
import { OverviewTab, type ModelDetail, MODEL_DETAIL } from "./model/OverviewTab";
import { StructureTab } from "./model/StructureTab";

const TABS = [
  { key: "overview", label: "Overview" },
  { key: "evaluations", label: "Evaluations" },
  { key: "structure", label: "Structure" },
  { key: "lineage", label: "Lineage" },
  { key: "recipe", label: "Merge recipe", mergedOnly: true },
  { key: "candidates", label: "Merge candidates" },
] as const;

export function ModelPage({ id }: { id: string }) {
  const [params] = useQueryParams();
  const result = useQuery<{ model: ModelDetail | null }>(`query Model($id: ID!) { model(id: $id) { ${MODEL_DETAIL} } }`, { id });
  const model = result.data?.model;
  const tabs = TABS.filter((t) => !("mergedOnly" in t) || model?.merge);
  const tab = tabs.find((t) => t.key === params.get("tab"))?.key ?? "overview";

  if (result.error) return <ErrorMessage error={result.error} retry={result.refetch} />;
  if (!result.data) return <Loading what="the model" />;
  if (!model) return <Empty>No model with id {id}. <Link to="/models">Back to the models</Link>.</Empty>;

  return (
    <section>
      <p className="breadcrumb">
        <Link to="/models">Models</Link> /
      </p>
      <div className="page-head">
        <h1>
          {model.name} <span className="muted">@{model.version}</span>{" "}
          <span className={`badge origin-${model.origin.toLowerCase()}`}>{model.origin.toLowerCase()}</span>
          {model.deletedAt ? <span className="badge deleted">deleted</span> : null}
        </h1>
        <div className="head-actions">
          {model.structure ? <Link className="button" to={href("/merge", { anchor: model.id })}>Merge with this model as anchor</Link> : null}
          {model.artifact ? <a className="button" href={`/artifacts/${model.artifact.sha256}`} download>Download weights ({model.artifact.format})</a> : null}
        </div>
      </div>
      <nav className="tabs" aria-label="Model sections">
        {tabs.map((t) => (
          <Link key={t.key} to={href(`/models/${model.id}`, { tab: t.key === "overview" ? null : t.key })} aria-current={t.key === tab ? "page" : undefined}>
            {t.label}
          </Link>
        ))}
      </nav>
      <div className="tab-body">
        {tab === "overview" ? <OverviewTab model={model} /> : null}
        {tab === "evaluations" ? <EvaluationsTab modelId={model.id} /> : null}
        {tab === "structure" ? <StructureTab key={model.id} modelId={model.id} /> : null}
        {tab === "lineage" ? <LineageTab modelId={model.id} /> : null}
        {tab === "recipe" ? <MergeRecipeTab modelId={model.id} /> : null}
        {tab === "candidates" ? <CandidatesTab model={model} /> : null}
      </div>
    </section>
  );
}
