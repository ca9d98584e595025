import { ApiClient } from "./apiClient";
import { followJob } from "./merge.command";
import { parse } from "./main";

const USAGE = `usage: layermerge evaluate --model ID --dataset ID [--limit N] [--batch-size B] [--classes 0,1,…] [--force]`;

/** Runs an evaluation with a progress bar and prints the per-class table and the score. */
export async function evaluateCommand(args: string[], client = new ApiClient()): Promise<number> {
  const { values } = parse(args, {
    model: { type: "string" }, dataset: { type: "string" }, limit: { type: "string" }, "batch-size": { type: "string" },
    classes: { type: "string" }, force: { type: "boolean" },
  });
  if (!values.model || !values.dataset) {
    console.error(USAGE);
    return 2;
  }
  const input = {
    modelId: values.model,
    datasetId: values.dataset,
    limit: values.limit ? Number(values.limit) : undefined,
    batchSize: values["batch-size"] ? Number(values["batch-size"]) : undefined,
    classes: values.classes ? String(values.classes).split(",").map((c) => Number(c.trim())) : undefined,
    force: values.force ? true : undefined,
  };
  const { startEvaluation: job } = await client.graphql(`mutation($i: StartEvaluationInput!) { startEvaluation(input: $i) { id status } }`, { i: input });
  const final = await followJob(client, job.id, "evaluating");
  if (final.status !== "SUCCEEDED") {
    console.error(`evaluation ${final.status.toLowerCase()}: ${final.error ?? final.message ?? ""}`);
    return 1;
  }
  const { job: done } = await client.graphql(
    `query($id: ID!) { job(id: $id) { message evaluation { id score images metrics perClass { classId name isThing iou acc pq sq rq } } } }`,
    { id: job.id },
  );
  const e = done.evaluation;
  const panoptic = e.perClass.some((c: { pq: number | null }) => c.pq != null);
  const pct = (v: number | null | undefined) => (v == null ? "—" : (v * 100).toFixed(2));
  const header = panoptic ? ["class", "id", "thing", "IoU", "PQ", "SQ", "RQ"] : ["class", "id", "IoU", "Acc"];
  const rows = e.perClass.map((c: any) => (panoptic ? [c.name, String(c.classId), c.isThing ? "yes" : "", pct(c.iou), pct(c.pq), pct(c.sq), pct(c.rq)] : [c.name, String(c.classId), pct(c.iou), pct(c.acc)]));
  printTable(header, rows);
  const m = e.metrics;
  const summary = panoptic
    ? `PQ ${pct(m.pq.all.pq)} (things ${pct(m.pq.things.pq)}, stuff ${pct(m.pq.stuff.pq)})  SQ ${pct(m.pq.all.sq)}  RQ ${pct(m.pq.all.rq)}  mIoU ${pct(m.mIoU)}`
    : `mIoU ${pct(m.mIoU)}  aAcc ${pct(m.aAcc)}  mAcc ${pct(m.mAcc)}`;
  console.error(`${summary}  over ${e.images} images`);
  console.error(done.message);
  console.log(e.id);
  return 0;
}

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  console.error(line(header));
  for (const r of rows) console.error(line(r));
}

/** What `layermerge evaluate --help` prints. */
export { USAGE as EVALUATE_USAGE };
