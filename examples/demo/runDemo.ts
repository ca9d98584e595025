/**
 * `npm run demo` — the whole story on the embedded default (./data), through the public API:
 * register a synthetic UDA task (source → target), its datasets and six trained models (one of
 * them also as a PyTorch checkpoint, evaluated through its ONNX twin); list
 * merge candidates; merge (uniform, layer-wise, cross-architecture, semantic into panoptic);
 * evaluate everything; print each model's scores and each merge against its best parent — next
 * to the independent PyTorch numbers in merge_check.json. Re-running it reuses what exists.
 * Afterwards `npm start` shows the populated registry (evaluating on the demo's datasets from there
 * needs their folder in LAYERMERGE_DATASET_ROOTS, as this script sets it).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { loadConfig } from "../../src/config/config";
import { startApp } from "../../src/main";

const HERE = __dirname;
const manifest = JSON.parse(fs.readFileSync(path.join(HERE, "manifest.json"), "utf8"));
const check = JSON.parse(fs.readFileSync(path.join(HERE, "merge_check.json"), "utf8"));

type Gql = (query: string, variables?: Record<string, unknown>) => Promise<any>;

const MERGES = [
  { label: "uniform a+b+c", anchor: "selftrain", with: ["source-only", "augment"], schedule: "UNIFORM" },
  { label: "layerwise a+b+c", anchor: "selftrain", with: ["source-only", "augment"], schedule: "LINEAR" },
  { label: "layerwise selftrain+ckpt", anchor: "selftrain", with: ["selftrain-ckpt"], schedule: "LINEAR" },
  { label: "cross-arch layerwise fcn<-mlp", anchor: "fcn-head", with: ["selftrain"], schedule: "LINEAR" },
  { label: "panoptic<-selftrain layerwise", anchor: "panoptic", with: ["selftrain"], schedule: "LINEAR" },
  { label: "panoptic<-selftrain uniform", anchor: "panoptic", with: ["selftrain"], schedule: "UNIFORM" },
];

async function main() {
  const started = Date.now();
  // The demo's datasets are read from this folder: it is added to the dataset roots.
  const datasetRoots = [process.env.LAYERMERGE_DATASET_ROOTS, path.join(HERE, "datasets")].filter(Boolean).join(path.delimiter);
  const config = loadConfig({ ...process.env, PORT: "0", LOG_LEVEL: process.env.LOG_LEVEL ?? "warn", LAYERMERGE_JOB_CONCURRENCY: process.env.LAYERMERGE_JOB_CONCURRENCY ?? process.env.LAYERMERGE_WORKERS ?? "2", LAYERMERGE_DATASET_ROOTS: datasetRoots });
  const app = await startApp(config);
  const url = app.server.url;
  const origin = url.replace(/\/graphql$/, "");
  const gql: Gql = async (query, variables = {}) => {
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...(process.env.LAYERMERGE_TOKEN ? { authorization: `Bearer ${process.env.LAYERMERGE_TOKEN}` } : {}) }, body: JSON.stringify({ query, variables }) });
    const body = (await res.json()) as { data?: any; errors?: Array<{ message: string }> };
    if (body.errors?.length) throw new Error(body.errors.map((e) => e.message).join("; "));
    return body.data;
  };
  const pct = (v: number | null | undefined) => (v == null ? "    —" : (v * 100).toFixed(1).padStart(5));
  const step = (text: string) => console.log(`\n▸ ${text}  (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  try {
    console.log(`layermerge demo — registry at ${config.databaseUrl.replace(/^file:/, "")}`);
    step("tasks, backbone and datasets");
    const tasks: Record<string, string> = {};
    const known = (await gql(`{ tasks { id key } backbones { id name } datasets(first: 500) { edges { node { id name split } } } }`));
    for (const t of manifest.tasks) {
      tasks[t.key] = known.tasks.find((x: any) => x.key === t.key)?.id ?? (await gql(`mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }`, { i: t })).createTask.id;
    }
    const bb = manifest.backbones[0];
    const backboneId = known.backbones.find((x: any) => x.name === bb.name)?.id ?? (await gql(`mutation($i: CreateBackboneInput!) { createBackbone(input: $i) { id } }`, { i: bb })).createBackbone.id;
    const datasets: Record<string, string> = {};
    for (const d of manifest.datasets) {
      const existing = known.datasets.edges.find((e: any) => e.node.name === d.name && e.node.split === d.split);
      datasets[d.name] =
        existing?.node.id ??
        (await gql(`mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }`, {
          i: { name: d.name, taskId: tasks[d.task === "PANOPTIC" ? "panoptic" : "semantic"], domain: d.domain, split: d.split, format: d.format, location: path.join(HERE, d.folder), ignoreIndex: d.ignoreIndex, classes: d.classes },
        })).createDataset.id;
    }
    console.log(`  ${manifest.datasets.length} datasets checked and registered (pairs, label values, isThing)`);

    step("models: upload the ONNX files and register them (structure read from the weights)");
    const models: Record<string, string> = {};
    for (const m of manifest.models) {
      const existing = (await gql(`query($n: String!) { models(where: { nameContains: $n }, first: 50) { edges { node { id name version } } } }`, { n: m.name })).models.edges.find((e: any) => e.node.name === m.name && e.node.version === m.version);
      if (existing) {
        models[m.name] = existing.node.id;
        continue;
      }
      const bytes = fs.readFileSync(path.join(HERE, m.file));
      const put = (await (await fetch(`${origin}/artifacts`, { method: "PUT", body: bytes })).json()) as { sha256: string };
      const r = await gql(`mutation($i: RegisterModelInput!) { registerModel(input: $i) { id structure { tensorCount parameterCount layerCount } } }`, {
        i: {
          artifactSha256: put.sha256, name: m.name, version: m.version, taskId: tasks[m.task === "PANOPTIC" ? "panoptic" : "semantic"], architecture: m.architecture,
          backboneId, sourceDatasetId: datasets[m.sourceDataset], targetDatasetId: datasets[m.targetDataset], udaStrategy: m.udaStrategy, tags: m.tags, inference: m.inference,
        },
      });
      models[m.name] = r.registerModel.id;
      const s = r.registerModel.structure;
      console.log(`  ${m.name.padEnd(15)} ${String(s.tensorCount).padStart(3)} tensors, ${s.parameterCount.toLocaleString("en").padStart(7)} parameters, ${s.layerCount} layers`);
    }
    for (const m of manifest.models) {
      for (const l of m.lineage ?? []) {
        await gql(`mutation($i: AddLineageEdgeInput!) { addLineageEdge(input: $i) { id } }`, { i: { parentId: models[l.parent], childId: models[m.name], relation: l.relation } }).catch((e: Error) => {
          if (!/already exists/.test(e.message)) throw e;
        });
      }
    }

    step("a PyTorch checkpoint: models/selftrain.pth (selftrain's weights as a state dict, make_pth.py)");
    // A checkpoint has no graph of its own: graphModelId names the ONNX twin whose initializers
    // evaluation fills with the checkpoint's tensors (matched by name: the export is unfused).
    const pthName = "selftrain-pth";
    const pthModel = manifest.models.find((m: any) => m.name === "selftrain");
    const existingPth = (await gql(`query($n: String!) { models(where: { nameContains: $n }) { edges { node { id name } } } }`, { n: pthName })).models.edges.find((e: any) => e.node.name === pthName);
    if (existingPth) {
      models[pthName] = existingPth.node.id;
    } else {
      const bytes = fs.readFileSync(path.join(HERE, "models", "selftrain.pth"));
      const put = (await (await fetch(`${origin}/artifacts`, { method: "PUT", body: bytes })).json()) as { sha256: string };
      const r = await gql(`mutation($i: RegisterModelInput!) { registerModel(input: $i) { id artifact { format } structure { tensorCount mergeableTensorCount layerCount } } }`, {
        i: {
          artifactSha256: put.sha256, name: pthName, taskId: tasks.semantic, architecture: pthModel.architecture, backboneId, sourceDatasetId: datasets[pthModel.sourceDataset],
          targetDatasetId: datasets[pthModel.targetDataset], udaStrategy: pthModel.udaStrategy, tags: ["demo", "pytorch"], graphModelId: models.selftrain,
        },
      });
      models[pthName] = r.registerModel.id;
      await gql(`mutation($i: AddLineageEdgeInput!) { addLineageEdge(input: $i) { id } }`, { i: { parentId: models[pthName], childId: models.selftrain, relation: "EXPORTED_FROM" } });
      const s = r.registerModel.structure;
      console.log(`  ${pthName.padEnd(15)} ${r.registerModel.artifact.format}: ${s.tensorCount} tensors (${s.mergeableTensorCount} mergeable; num_batches_tracked is not), ${s.layerCount} layers, graph: selftrain`);
    }

    step("merge candidates for selftrain");
    const cands = await gql(`query($a: ID!) { mergeCandidates(anchorId: $a, minSharedFraction: 0.3, first: 20) { edges { node { model { name } sharedTensorCount sharedFraction groups { prefix shared total } } } } }`, { a: models.selftrain });
    for (const e of cands.mergeCandidates.edges) {
      const n = e.node;
      console.log(`  ${n.model.name.padEnd(22)} shares ${String(n.sharedTensorCount).padStart(3)} tensors, ${(n.sharedFraction * 100).toFixed(1).padStart(5)} % of selftrain's parameters  (${n.groups.map((g: any) => `${g.prefix} ${g.shared}/${g.total}`).join(", ")})`);
    }

    step("merges (jobs on the thread pool)");
    const merged: Record<string, string> = {};
    for (const m of MERGES) {
      const job = (await gql(`mutation($i: StartMergeInput!) { startMerge(input: $i) { id } }`, {
        i: { anchorId: models[m.anchor], modelIds: m.with.map((n) => models[n]), schedule: { kind: m.schedule }, output: { name: `demo-${m.label.replace(/[^a-z0-9]+/gi, "-").toLowerCase()}`, tags: ["demo", "merged"] } },
      })).startMerge.id;
      const done = await waitJob(gql, job);
      if (done.status !== "SUCCEEDED") throw new Error(`merge ${m.label} ${done.status}: ${done.error}`);
      merged[m.label] = done.model.id;
      console.log(`  ${m.label.padEnd(30)} ${done.message}`);
    }

    step("evaluations on the source and target validation splits");
    const evaluate = async (modelId: string, dataset: string) => {
      const job = (await gql(`mutation($i: StartEvaluationInput!) { startEvaluation(input: $i) { id } }`, { i: { modelId, datasetId: datasets[dataset] } })).startEvaluation.id;
      const done = await waitJob(gql, job);
      if (done.status !== "SUCCEEDED") throw new Error(`evaluation of ${modelId} on ${dataset} ${done.status}: ${done.error}`);
      const e = (await gql(`query($id: ID!) { job(id: $id) { evaluation { score metrics } } }`, { id: job })).job.evaluation;
      return { score: e.score as number, mIoU: e.metrics.mIoU as number };
    };
    const scores: Record<string, { src: { score: number; mIoU: number }; tgt: { score: number; mIoU: number }; panoptic: boolean }> = {};
    const all = [...manifest.models.map((m: any) => ({ name: m.name, id: models[m.name], panoptic: m.task === "PANOPTIC" })), ...MERGES.map((m) => ({ name: m.label, id: merged[m.label], panoptic: m.anchor === "panoptic" }))];
    for (const m of all) {
      const suffix = m.panoptic ? "-panoptic" : "";
      scores[m.name] = { src: await evaluate(m.id, `synth-source-val${suffix}`), tgt: await evaluate(m.id, `synth-target-val${suffix}`), panoptic: m.panoptic };
    }

    step("the checkpoint through its graph");
    const pthScore = await evaluate(models[pthName], "synth-target-val");
    const onnxScore = scores.selftrain.tgt.score;
    if (pthScore.score !== onnxScore) throw new Error(`${pthName} scores ${pthScore.score} on synth-target-val but selftrain.onnx scores ${onnxScore}`);
    console.log(`  ${pthName} through selftrain.onnx: target mIoU ${pct(pthScore.score)} %, identical to the ONNX model's score (${onnxScore})`);

    step("results (target = the UDA goal; percent)");
    console.log(`  ${"model".padEnd(30)} ${"src mIoU".padStart(8)} ${"tgt mIoU".padStart(8)} ${"tgt PQ".padStart(7)}   ${"PyTorch tgt".padStart(11)}`);
    for (const m of manifest.models) {
      const s = scores[m.name];
      const ref = check.models[m.name]?.targetVal;
      console.log(`  ${m.name.padEnd(30)} ${pct(s.src.mIoU).padStart(8)} ${pct(s.tgt.mIoU).padStart(8)} ${(s.panoptic ? pct(s.tgt.score) : "").padStart(7)}   ${pct(s.panoptic ? ref?.PQ : ref?.mIoU).padStart(11)}`);
    }
    console.log(`\n  ${"merge".padEnd(30)} ${"tgt".padStart(6)} ${"best parent".padStart(18)} ${"gain".padStart(6)}   ${"PyTorch gain".padStart(12)}`);
    for (const m of MERGES) {
      const s = scores[m.label];
      // The registry's own Merge.gain: the merged model's score minus its parents' on the same
      // dataset (a semantic parent has no PQ on the panoptic split, so it is not compared there).
      const dataset = datasets[s.panoptic ? "synth-target-val-panoptic" : "synth-target-val"];
      const { model } = await gql(`query($id: ID!, $d: ID!) { model(id: $id) { merge { gain(datasetId: $d) { score bestParentScore vsBestParent perParent { model { name } score } } } } }`, { id: merged[m.label], d: dataset });
      const g = model.merge.gain;
      const best = g.perParent.filter((p: any) => p.score != null).reduce((a: any, b: any) => (b.score > a.score ? b : a));
      const ref = check.merges.find((x: any) => x.label === m.label);
      const signed = (v: number) => `${v >= 0 ? "+" : ""}${(v * 100).toFixed(1)}`;
      console.log(`  ${m.label.padEnd(30)} ${pct(g.score).padStart(6)} ${`${best.model.name} ${pct(g.bestParentScore)}`.padStart(18)} ${signed(g.vsBestParent).padStart(6)}   ${ref ? signed(ref.gainVsBestParent).padStart(12) : ""}`);
    }
    console.log(`\n  (panoptic rows: PQ; semantic rows: mIoU. Merging the same-architecture models does not beat the best parent on`);
    console.log(`   this toy; merging a self-trained semantic model into the panoptic one does. The registry's numbers are`);
    console.log(`   computed by its own merge and evaluation code; the PyTorch columns come from examples/demo/merge_check.py.)`);
    step("merge search: which model or merge to keep, ranked without target labels (INFO_MAX on the unlabelled target images)");
    const targetImages =
      known.datasets.edges.find((e: any) => e.node.name === "synth-target-train-images")?.node.id ??
      (await gql(`mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }`, {
        i: { name: "synth-target-train-images", taskId: tasks.semantic, domain: "SynthTarget", split: "train", format: "IMAGES", location: path.join(HERE, "datasets/target/train"), classes: manifest.datasets.find((d: any) => d.name === "synth-target-val").classes },
      })).createDataset.id;
    const semanticPool = manifest.models.filter((m: any) => m.task === "SEMANTIC").map((m: any) => m.name as string);
    const nameOf = new Map(semanticPool.map((n: string) => [models[n], n]));
    const searchJob = (await gql(`mutation($i: MergeSearchInput!) { startMergeSearch(input: $i) { id mergeSearch { planned truncated } } }`, {
      i: { modelIds: semanticPool.map((n: string) => models[n]), objective: { kind: "INFO_MAX", datasetId: targetImages, limit: 50 }, audit: { datasetId: datasets["synth-target-val"], limit: 50 }, budget: { maxCandidates: 60 }, keep: "NONE" },
    })).startMergeSearch;
    console.log(`  ${searchJob.mergeSearch.planned} candidates planned${searchJob.mergeSearch.truncated ? " (cut at the budget of 60: singles, then pairs)" : ""}; the audit (labelled target val) is reported, never used to choose`);
    const searched = await waitJob(gql, searchJob.id);
    if (searched.status !== "SUCCEEDED") throw new Error(`merge search ${searched.status}: ${searched.error}`);
    const sr = (await gql(`query($id: ID!) { job(id: $id) { mergeSearch { spearman pickConfidence marginVsBestSingle pickIsSingle best { objective audit recipe } bestSingle { objective audit recipe } candidates(first: 1, orderBy: AUDIT) { edges { node { audit recipe } } } } } }`, { id: searchJob.id })).job.mergeSearch;
    const recipeText = (r: any) => (r.modelIds.length ? `${nameOf.get(r.anchorId)} ← ${r.modelIds.map((id: string) => nameOf.get(id)).join(" + ")} (${r.schedule.kind}${r.schedule.kind === "STEP" ? ` ${r.schedule.cutoff}` : ""})` : `${nameOf.get(r.anchorId)} alone`);
    console.log(`  pick: ${recipeText(sr.best.recipe)} — INFO_MAX ${sr.best.objective.toFixed(4)}, target mIoU ${pct(sr.best.audit)} %${sr.pickIsSingle ? " (a single model: keep it, do not merge)" : ""}`);
    console.log(`  best single model by INFO_MAX: ${recipeText(sr.bestSingle.recipe)} — target mIoU ${pct(sr.bestSingle.audit)} %; margin ${sr.marginVsBestSingle.toFixed(4)}`);
    console.log(`  pick confidence ${pct(sr.pickConfidence)} % of 1,000 bootstrap resamples; Spearman ρ(INFO_MAX, target mIoU) over the candidates ${sr.spearman === null ? "—" : sr.spearman.toFixed(2)}`);
    const top = sr.candidates.edges[0].node;
    console.log(`  (the best candidate by the audit itself, which a search without labels cannot see: ${recipeText(top.recipe)}, ${pct(top.audit)} %)`);
    console.log(`\ndone in ${((Date.now() - started) / 1000).toFixed(1)} s — run \`npm start\` and open http://127.0.0.1:4000/ to explore it (\`LAYERMERGE_DATASET_ROOTS=${path.join(HERE, "datasets")} npm start\` to evaluate on the demo's datasets from there).`);
  } finally {
    await app.stop();
  }
}

async function waitJob(gql: Gql, id: string): Promise<any> {
  for (;;) {
    const { job } = await gql(`query($id: ID!) { job(id: $id) { status message error model { id } } }`, { id });
    if (!["QUEUED", "RUNNING"].includes(job.status)) return job;
    await new Promise((r) => setTimeout(r, 100));
  }
}

main().catch((error) => {
  console.error(`demo failed: ${error.message}`);
  process.exit(1);
});
