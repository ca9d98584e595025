import * as fs from "node:fs";
import { DomainError } from "../core/errors";
import { MERGE_METHOD_NAMES } from "../core/merge/mergeMethods";
import { ApiClient } from "./apiClient";
import { ProgressBar } from "./progressBar";
import { parse } from "./main";

const USAGE = `usage: layermerge merge --anchor ID --with ID [ID …] [--method ${MERGE_METHOD_NAMES.join("|")}]
                        [--schedule LINEAR|STEP|COSINE|UNIFORM|CUSTOM] [--cutoff T] [--knots s0,s1,…]
                        [--weights w1,w2,…] [--base ID] [--lambda L] [--density K] [--drop-rate P] [--seed S]
                        [--name NAME] [--version V] [--tags a,b]
       layermerge merge --recipe FILE.yaml [--ref KEY=ID|NAME@VERSION …]
                        (a mergekit config, as Merge.recipeYaml writes it; --ref binds a model's text in it)`;

/** Starts a merge, follows its job with a progress bar, and prints the merged model's id. */
export async function mergeCommand(args: string[], client = new ApiClient()): Promise<number> {
  const { values, positionals } = parse(args, {
    anchor: { type: "string" }, with: { type: "string", multiple: true }, method: { type: "string" }, schedule: { type: "string" },
    cutoff: { type: "string" }, knots: { type: "string" }, weights: { type: "string" }, base: { type: "string" },
    lambda: { type: "string" }, density: { type: "string" }, "drop-rate": { type: "string" }, seed: { type: "string" },
    name: { type: "string" }, version: { type: "string" }, tags: { type: "string" },
    recipe: { type: "string" }, ref: { type: "string", multiple: true },
  });
  if (values.recipe) return followMerge(client, await startFromRecipe(client, String(values.recipe), (values.ref as string[] | undefined) ?? []));
  const contributors = [...((values.with as string[] | undefined) ?? []), ...positionals];
  if (!values.anchor || contributors.length === 0) {
    console.error(USAGE);
    return 2;
  }
  const num = (v: unknown, flag: string) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new DomainError("BAD_USER_INPUT", `--${flag} must be a number (got ${JSON.stringify(v)})`);
    return n;
  };
  const list = (v: unknown, flag: string) => (v === undefined ? undefined : String(v).split(",").map((x) => num(x.trim(), flag)!));
  const params = { lambda: num(values.lambda, "lambda"), density: num(values.density, "density"), dropRate: num(values["drop-rate"], "drop-rate"), seed: num(values.seed, "seed") };
  const input = {
    anchorId: values.anchor,
    modelIds: contributors,
    method: values.method?.toString().toUpperCase(),
    schedule: values.schedule || values.cutoff || values.knots ? { kind: values.schedule?.toString().toUpperCase(), cutoff: num(values.cutoff, "cutoff"), knots: list(values.knots, "knots") } : undefined,
    weights: list(values.weights, "weights"),
    baseModelId: values.base,
    params: Object.values(params).some((v) => v !== undefined) ? params : undefined,
    output: { name: values.name, version: values.version, tags: values.tags ? String(values.tags).split(",").map((t) => t.trim()) : undefined },
  };
  const { startMerge: job } = await client.graphql(`mutation($i: StartMergeInput!) { startMerge(input: $i) { id status message } }`, { i: input });
  return followMerge(client, job);
}

/** Runs a mergekit config file; each `--ref KEY=TARGET` binds KEY to a model id, or to NAME@VERSION. */
async function startFromRecipe(client: ApiClient, file: string, refs: string[]): Promise<{ id: string; status: string }> {
  const modelRefs = refs.map((ref) => {
    const at = ref.lastIndexOf("=");
    if (at <= 0 || at === ref.length - 1) throw new DomainError("BAD_USER_INPUT", `--ref must be KEY=ID or KEY=NAME@VERSION (got ${JSON.stringify(ref)})`);
    const [key, target] = [ref.slice(0, at), ref.slice(at + 1)];
    return target.includes("@") ? { key, nameVersion: target } : { key, id: target };
  });
  const recipeYaml = fs.readFileSync(file, "utf8");
  const { startMergeFromRecipe: job } = await client.graphql(
    `mutation($y: String!, $r: [ModelRefInput!]) { startMergeFromRecipe(recipeYaml: $y, modelRefs: $r) { id status message } }`,
    { y: recipeYaml, r: modelRefs.length ? modelRefs : null },
  );
  return job;
}

async function followMerge(client: ApiClient, job: { id: string; status: string }): Promise<number> {
  console.error(`merge job ${job.id} ${job.status.toLowerCase()}`);
  const final = await followJob(client, job.id, "merging");
  if (final.status !== "SUCCEEDED") {
    console.error(`merge ${final.status.toLowerCase()}: ${final.error ?? final.message ?? ""}`);
    return 1;
  }
  console.error(final.message);
  console.log(final.model.id);
  return 0;
}

/**
 * Follows a job to its end, drawing its progress: live over the jobUpdated subscription
 * (graphql-ws), falling back to polling job(id) if the socket cannot be used.
 */
export async function followJob(client: ApiClient, id: string, label: string): Promise<any> {
  const bar = new ProgressBar(label);
  try {
    await client.watchJob(id, (u) => {
      if (u.status === "RUNNING" || u.status === "SUCCEEDED") bar.update(u.progress, u.message ?? "");
    });
  } catch {
    // No WebSocket (a proxy that strips upgrades, an old server): poll instead.
    for (;;) {
      const { job } = await client.graphql(`query($id: ID!) { job(id: $id) { status progress message } }`, { id });
      if (job.status === "RUNNING" || job.status === "SUCCEEDED") bar.update(job.progress, job.message ?? "");
      if (!["QUEUED", "RUNNING"].includes(job.status)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  const { job } = await client.graphql(`query($id: ID!) { job(id: $id) { id status progress message error model { id name version } } }`, { id });
  if (job.status === "SUCCEEDED") bar.done();
  else process.stderr.write("\n");
  return job;
}

/** What `layermerge merge --help` prints. */
export { USAGE as MERGE_USAGE };
