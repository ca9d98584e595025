import * as fs from "node:fs";
import * as path from "node:path";
import { DomainError } from "../core/errors";
import { ApiClient, sha256File } from "./apiClient";
import { formatBytes, ProgressBar } from "./progressBar";
import { parse } from "./main";

const USAGE = `usage: layermerge register FILE --name NAME --task TASK [--version V] [--backbone B] [--source DATASET]
                          [--target DATASET] [--strategy S] [--architecture A] [--tags a,b] [--layer-order m1,m2,…]
                          [--graph-model ID] [--checkpoint-key KEY] [--strip-prefix PREFIX]
  FILE is an ONNX, safetensors or PyTorch (.pth/.pt/.bin, detected from its bytes) model.
  --checkpoint-key names the checkpoint's dict holding the weights; --strip-prefix a name prefix to drop.
  TASK is a task id or key; B a backbone id or name; DATASET a dataset id or name.
  ID (a checkpoint's graph) is the id of an ONNX model of the same task it is evaluated through.
  Reaches the registry at LAYERMERGE_URL (default http://127.0.0.1:4000) with LAYERMERGE_TOKEN.`;

/** Uploads a model file (skipping the upload when the registry already has the bytes) and registers it. */
export async function registerCommand(args: string[], client = new ApiClient()): Promise<number> {
  const { values, positionals } = parse(args, {
    name: { type: "string" }, version: { type: "string" }, task: { type: "string" }, backbone: { type: "string" },
    source: { type: "string" }, target: { type: "string" }, strategy: { type: "string" }, architecture: { type: "string" },
    tags: { type: "string" }, "layer-order": { type: "string" }, "graph-model": { type: "string" },
    "checkpoint-key": { type: "string" }, "strip-prefix": { type: "string" },
  });
  if (positionals.length !== 1 || !values.name || !values.task) {
    console.error(USAGE);
    return 2;
  }
  const file = path.resolve(positionals[0]);
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw new DomainError("BAD_USER_INPUT", `no file at ${file}`);

  const refs = await client.graphql(`{ tasks { id key } backbones { id name } datasets(first: 500) { edges { node { id name split } } } }`);
  const taskId = resolveRef("task", String(values.task), refs.tasks.map((t: { id: string; key: string }) => [t.id, t.key]));
  const backboneId = values.backbone ? resolveRef("backbone", String(values.backbone), refs.backbones.map((b: { id: string; name: string }) => [b.id, b.name])) : undefined;
  const datasets = refs.datasets.edges.map((e: { node: { id: string; name: string } }) => [e.node.id, e.node.name] as [string, string]);
  const sourceDatasetId = values.source ? resolveRef("source dataset", String(values.source), datasets) : undefined;
  const targetDatasetId = values.target ? resolveRef("target dataset", String(values.target), datasets) : undefined;

  const size = fs.statSync(file).size;
  const hashing = new ProgressBar("hashing ");
  const sha256 = await sha256File(file, (done, total) => hashing.update(total ? done / total : 1, `${formatBytes(done)} / ${formatBytes(total)}`));
  hashing.done();
  const upload = async () => {
    const bar = new ProgressBar("uploading");
    await client.upload(file, (sent, total) => bar.update(total ? sent / total : 1, `${formatBytes(sent)} / ${formatBytes(total)}`));
    bar.done();
  };
  if (await client.has(sha256)) {
    console.error(`the registry already holds ${sha256.slice(0, 12)}… (${formatBytes(size)}); skipping the upload`);
  } else {
    await upload();
  }
  const input = {
    artifactSha256: sha256,
    name: values.name,
    version: values.version,
    taskId,
    backboneId,
    sourceDatasetId,
    targetDatasetId,
    udaStrategy: values.strategy,
    architecture: values.architecture,
    tags: values.tags ? String(values.tags).split(",").map((t) => t.trim()).filter(Boolean) : undefined,
    layerOrder: values["layer-order"] ? String(values["layer-order"]).split(",").map((t) => t.trim()) : undefined,
    graphModelId: values["graph-model"],
    checkpointKey: values["checkpoint-key"] !== undefined ? String(values["checkpoint-key"]) : undefined,
    stripPrefix: values["strip-prefix"] !== undefined ? String(values["strip-prefix"]) : undefined,
  };
  const register = () => {
    console.error("parsing and registering…");
    return client.graphql(
      `mutation($i: RegisterModelInput!) { registerModel(input: $i) { id name version structure { tensorCount parameterCount layerCount groups { prefix tensorCount } } } }`,
      { i: input },
    );
  };
  let registered;
  try {
    registered = await register();
  } catch (error) {
    // The registry removes uploads nobody registers within LAYERMERGE_UPLOAD_TTL: bytes it held
    // at the HEAD (or uploaded long ago) can be gone by now. Upload them again, once.
    const e = error as DomainError;
    if (!(e instanceof DomainError && e.details?.code === "NOT_FOUND" && e.field === "input.artifactSha256")) throw error;
    console.error(`the registry no longer holds ${sha256.slice(0, 12)}… (an unregistered upload is removed after a while); uploading again`);
    await upload();
    registered = await register();
  }
  const model = registered.registerModel;
  const s = model.structure;
  console.error(`registered ${model.name}@${model.version}: ${s.tensorCount} tensors, ${s.parameterCount.toLocaleString("en")} parameters, ${s.layerCount} layers (${s.groups.map((g: { prefix: string; tensorCount: number }) => `${g.prefix} ${g.tensorCount}`).join(", ")})`);
  console.log(model.id);
  return 0;
}

function resolveRef(what: string, given: string, known: Array<[string, string]>): string {
  const match = known.find(([id, name]) => id === given || name === given);
  if (!match) throw new DomainError("BAD_USER_INPUT", `unknown ${what} ${JSON.stringify(given)} (give an id or ${what === "task" ? "key" : "name"})`);
  return match[0];
}

/** What `layermerge register --help` prints. */
export { USAGE as REGISTER_USAGE };
