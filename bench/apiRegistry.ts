/**
 * The registry bench:api measures against, built through the API as a user would: 300 models in
 * checkpoint chains with tags and a score each, small models merged into merged models (so the
 * leaderboard has gains and lineage has merges), three large models for the merge-job timings
 * and three wide ones for the most expensive plans the limits accept.
 */
import * as http from "node:http";
import { writeSafetensors } from "../src/core/formats/safetensors/testing/writeSafetensors";

export async function gql(url: string, query: string, variables: Record<string, unknown> = {}) {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query, variables }) });
  const body = (await res.json()) as { data?: any; errors?: unknown };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

/**
 * PUT /artifacts on a connection of its own (node:http, no agent). fetch reuses keep-alive
 * connections, and on a loaded machine it may write a large body into one the server has just
 * closed as idle (EPIPE, nothing answered); a fresh connection per upload cannot meet that.
 */
export function upload(origin: string, bytes: Uint8Array): Promise<string> {
  return new Promise((resolve, reject) => {
    let responded = false;
    const req = http.request(`${origin}/artifacts`, { method: "PUT", agent: false, headers: { "content-length": bytes.byteLength } }, (res) => {
      responded = true;
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => (res.statusCode === 201 || res.statusCode === 200 ? resolve((JSON.parse(text) as { sha256: string }).sha256) : reject(new Error(`PUT /artifacts answered ${res.statusCode}: ${text}`))));
      res.on("error", reject);
    });
    // A refusal (413) is answered before the body is read, and the rest of the write then fails: the answer counts.
    req.on("error", (error) => responded || reject(error));
    req.end(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  });
}

/** Waits for a job to end; its wall time is the job's own created → finished. */
export async function jobSeconds(url: string, id: string): Promise<number> {
  return (await jobTimes(url, id)).seconds;
}

/** Waits for a job to end: its created → finished, and the part of it before a runner started it. */
export async function jobTimes(url: string, id: string): Promise<{ seconds: number; queuedSeconds: number }> {
  for (;;) {
    const { job } = await gql(url, `query($id: ID!) { job(id: $id) { status createdAt startedAt finishedAt error } }`, { id });
    if (job.status === "SUCCEEDED") {
      return { seconds: (Date.parse(job.finishedAt) - Date.parse(job.createdAt)) / 1000, queuedSeconds: (Date.parse(job.startedAt) - Date.parse(job.createdAt)) / 1000 };
    }
    if (!["QUEUED", "RUNNING"].includes(job.status)) throw new Error(`job ${id} ended ${job.status}: ${job.error}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface BenchRegistry {
  datasetId: string;
  /** A merged model with parents, grandparents and a score (the model page and lineage). */
  mergedId: string;
  big: string[];
  wide: string[];
  modelCount: number;
}

export async function seedRegistry(url: string, options: { models: number; bigFloats: number; wideTensors: number }): Promise<BenchRegistry> {
  const origin = url.replace(/\/graphql$/, "");
  const taskId = (await gql(url, `mutation { createTask(input: { key: "sem", name: "Semantic", kind: SEMANTIC, primaryMetric: MIOU }) { id } }`)).createTask.id;
  const backboneId = (await gql(url, `mutation { createBackbone(input: { name: "MiT-B5" }) { id } }`)).createBackbone.id;
  const datasetId = (await gql(url, `mutation($t: ID!) { createDataset(input: { name: "cs", taskId: $t, format: CITYSCAPES, location: "/data/cs", verify: false, classes: [{ id: 0, name: "road", isThing: false }] }) { id } }`, { t: taskId })).createDataset.id;
  const score = (modelId: string, value: number) =>
    gql(url, `mutation($i: RecordEvaluationInput!) { recordEvaluation(input: $i) { id } }`, { i: { modelId, datasetId, score: value, source: "bench" } });
  const edge = (parentId: string, childId: string) =>
    gql(url, `mutation($i: AddLineageEdgeInput!) { addLineageEdge(input: $i) { id } }`, { i: { parentId, childId, relation: "CHECKPOINT_OF" } });

  const chain: string[] = [];
  for (let i = 0; i < options.models; i++) {
    const id: string = (await gql(url, `mutation($i: CreateModelInput!) { createModel(input: $i) { id } }`, { i: { name: `model-${i}`, taskId, backboneId, tags: ["bench"] } })).createModel.id;
    await score(id, (i % 97) / 100);
    if (chain.length && i % 5 !== 0) await edge(chain[chain.length - 1]!, id);
    chain.push(id);
  }

  // Small models (checkpoints of chain models), merged three at a time into scored merges.
  const small: string[] = [];
  for (let s = 0; s < 6; s++) {
    const tensors = Array.from({ length: 8 }, (_, i) => ({ name: `blocks.${i}.weight`, dtype: "F32" as const, shape: [4], data: new Uint8Array(new Float32Array([s, i, s + i, 1]).buffer) }));
    const id: string = (await gql(url, `mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name: `small-${s}`, taskId, backboneId, artifactSha256: await upload(origin, writeSafetensors(tensors)) } })).registerModel.id;
    await edge(chain[(10 * s + 3) % chain.length]!, id);
    await score(id, 0.4 + s / 100);
    small.push(id);
  }
  let mergedId = "";
  for (let k = 0; k < 4; k++) {
    const inputs = [small[k]!, small[k + 1]!, small[k + 2]!];
    const job = (await gql(url, `mutation($i: StartMergeInput!) { startMerge(input: $i) { id } }`, { i: { anchorId: inputs[0], modelIds: inputs.slice(1), output: { name: `merged-small-${k}` } } })).startMerge.id;
    await jobSeconds(url, job);
    mergedId = (await gql(url, `query($id: ID!) { job(id: $id) { model { id } } }`, { id: job })).job.model.id;
    await score(mergedId, 0.45 + k / 100);
  }

  const big: string[] = [];
  for (let s = 0; s < 3; s++) {
    const data = new Float32Array(options.bigFloats);
    for (let i = 0; i < data.length; i++) data[i] = ((i + s) % 1000) / 1000;
    const bytes = writeSafetensors([{ name: "enc.weight", dtype: "F32", shape: [options.bigFloats], data: new Uint8Array(data.buffer) }]);
    big.push((await gql(url, `mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name: `big-${s}`, taskId, artifactSha256: await upload(origin, bytes) } })).registerModel.id);
  }
  const wide: string[] = [];
  for (let s = 0; s < 3; s++) {
    const tensors = Array.from({ length: options.wideTensors }, (_, i) => ({ name: `blocks.${i}.weight`, dtype: "F32" as const, shape: [2], data: new Uint8Array(new Float32Array([s, i]).buffer) }));
    wide.push((await gql(url, `mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name: `wide-${s}`, taskId, artifactSha256: await upload(origin, writeSafetensors(tensors)) } })).registerModel.id);
  }
  return { datasetId, mergedId, big, wide, modelCount: options.models + small.length + 4 + big.length + wide.length };
}

/** A request that asks for a fresh execution: the server's response cache neither answers nor is skipped silently. */
export const NO_CACHE: Record<string, string> = { "cache-control": "no-cache" };

/** The queries a dashboard makes, each measured against `{ __typename }` on the same server. */
export function dashboardQueries(registry: BenchRegistry): Array<{ name: string; body: string; headers?: Record<string, string> }> {
  const d = registry.datasetId;
  const m = registry.mergedId;
  const body = (query: string, variables: Record<string, unknown> = {}) => JSON.stringify({ query, variables });
  return [
    { name: "floor: { __typename }", body: body(`{ __typename }`) },
    {
      name: "dashboard: models(first: 50)",
      body: body(`query($d: ID!) { models(first: 50, orderBy: { field: NAME }) { totalCount edges { node { id name task { key } backbone { name } parents { name } score(datasetId: $d) } } } }`, { d }),
    },
    {
      name: "leaderboard(first: 50) + gains",
      body: body(`query($d: ID!) { leaderboard(datasetId: $d, first: 50) { totalCount edges { node { rank score model { id name } merge { gain(datasetId: $d) { vsBestParent } } } } } }`, { d }),
    },
    {
      name: "model page",
      body: body(
        `query($m: ID!, $d: ID!) { model(id: $m) { id name version description origin tags task { key name } backbone { name } score(datasetId: $d)
          structure { hash tensorCount parameterCount layerCount groups { prefix tensorCount parameterCount } }
          evaluations { id score createdAt dataset { name } } parents { id name } children { id name } } }`,
        { m, d },
      ),
    },
    { name: "lineage(depth: 3) of a merge", body: body(`query($m: ID!) { lineage(modelId: $m, depth: 3) { nodes { id name origin } edges { parentId childId relation weight } } }`, { m }) },
  ];
}
