import { databaseKinds } from "./support/testDatabase";
import { startTestServer, TestServer } from "./support/testServer";
import { seedBasics } from "./support/fixtures";
import { upload } from "./support/http";
import { waitForJob, JOB_FIELDS } from "./support/jobs";
import goldens from "../src/core/merge/fixtures/goldens.json";
import { writeSafetensors } from "../src/core/formats/safetensors/testing/writeSafetensors";
import { bufferSource } from "../src/core/formats/byteSource";
import { parseSafetensors } from "../src/core/formats/safetensors/parseSafetensors";
import { decodeToFloat64 } from "../src/core/merge/decodeFloats";
import type { DType } from "../src/core/structure/types";

const REGISTER = `mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`;
const START = `mutation($i: StartMergeInput!) { startMerge(input: $i) { ${JOB_FIELDS} } }`;

interface JsonTensor { name: string; shape: number[]; dtype: string; hex: string }
interface JsonScenario { name: string; method: string; schedule: { kind: string }; tolerance?: number; anchor: JsonTensor[]; contributors: JsonTensor[][]; base: JsonTensor[] | null; expected: Record<string, string> }

/** The SLERP and MODEL_STOCK scenarios of makeGoldens.py: their tensor names put layers l0..l3 in safetensors order too. */
const scenarios = (goldens.scenarios as unknown as JsonScenario[]).filter((s) => s.method === "SLERP" || s.method === "MODEL_STOCK");

const file = (tensors: JsonTensor[]) => writeSafetensors(tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, data: new Uint8Array(Buffer.from(t.hex, "hex")) })));

describe.each(databaseKinds)("SLERP and MODEL_STOCK through GraphQL (%s)", (kind) => {
  let server: TestServer;
  let taskId: string;
  const ids = new Map<string, string>();

  /** Registers a model once per distinct content. */
  const register = async (tensors: JsonTensor[]): Promise<string> => {
    const key = JSON.stringify(tensors);
    if (!ids.has(key)) {
      const { body } = await upload(server.origin, file(tensors));
      const { registerModel } = await server.ok(REGISTER, { i: { name: `golden-${ids.size}`, taskId, artifactSha256: body.sha256 } });
      ids.set(key, registerModel.id);
    }
    return ids.get(key)!;
  };

  beforeAll(async () => {
    server = await startTestServer(kind);
    taskId = (await seedBasics(server)).task.id;
  });
  afterAll(() => server.stop());

  test("mergeMethods lists SLERP and MODEL_STOCK with their base requirement and default schedule", async () => {
    const { mergeMethods } = await server.ok(`{ mergeMethods { name needsBase arxiv defaultSchedule parameters { name } } }`);
    expect(mergeMethods.map((m: { name: string }) => m.name)).toEqual(["LAYERWISE", "TASK_ARITHMETIC", "TIES", "DARE", "SLERP", "MODEL_STOCK"]);
    expect(mergeMethods.slice(4)).toEqual([
      { name: "SLERP", needsBase: false, arxiv: "2403.13257", defaultSchedule: "LINEAR", parameters: [] },
      { name: "MODEL_STOCK", needsBase: true, arxiv: "2403.19522", defaultSchedule: "UNIFORM", parameters: [] },
    ]);
  });

  test.each(scenarios.map((s) => [s.name, s] as const))("%s matches makeGoldens.py within its tolerance", async (_name, s) => {
    const anchorId = await register(s.anchor);
    const modelIds = [];
    for (const c of s.contributors) modelIds.push(await register(c));
    const baseModelId = s.base ? await register(s.base) : undefined;
    const start = await server.ok(START, { i: { anchorId, modelIds, baseModelId, method: s.method, schedule: s.schedule } });
    const job = await waitForJob(server, start.startMerge.id);
    expect({ status: job.status, error: job.error }).toEqual({ status: "SUCCEEDED", error: null });
    const { model } = await server.ok(`query($id: ID!) { model(id: $id) { artifact { sha256 } merge { method schedule { kind } } } }`, { id: job.model.id });
    expect(model.merge).toEqual({ method: s.method, schedule: { kind: s.schedule.kind } });
    const bytes = new Uint8Array(await (await fetch(`${server.origin}/artifacts/${model.artifact.sha256}`)).arrayBuffer());
    const parsed = parseSafetensors(bufferSource(bytes));
    expect(parsed.tensors.map((t) => t.name).sort()).toEqual(Object.keys(s.expected).sort());
    for (const t of parsed.tensors) {
      const loc = t.location as { offset: number; length: number };
      const got = bytes.slice(loc.offset, loc.offset + loc.length);
      const want = new Uint8Array(Buffer.from(s.expected[t.name], "hex"));
      if (t.dtype === "I64" || Buffer.from(got).equals(Buffer.from(want))) continue;
      const a = decodeToFloat64(got, t.dtype as DType);
      const b = decodeToFloat64(want, t.dtype as DType);
      const worst = Math.max(...Array.from(b, (w, i) => Math.abs(a[i] - w) / Math.abs(w)));
      expect({ tensor: t.name, within: worst <= s.tolerance! }).toEqual({ tensor: t.name, within: true });
    }
  });

  test("SLERP and MODEL_STOCK recipes they cannot run are refused up front with BAD_USER_INPUT naming the field", async () => {
    const [stock] = scenarios.filter((s) => s.method === "MODEL_STOCK" && s.contributors.length === 2);
    const anchorId = await register(stock.anchor);
    const [c1, c2] = [await register(stock.contributors[0]), await register(stock.contributors[1])];
    const baseModelId = await register(stock.base!);
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ method: "SLERP", modelIds: [c1, c2] }, "input.modelIds", /exactly two models/],
      [{ method: "SLERP", modelIds: [c1], weights: [2] }, "input.weights", /SLERP takes no relative weights/],
      [{ method: "MODEL_STOCK", modelIds: [c1] }, "input.baseModelId", /MODEL_STOCK needs baseModelId/],
      [{ method: "MODEL_STOCK", modelIds: [c1, c2], baseModelId, weights: [1, 1] }, "input.weights", /MODEL_STOCK takes no relative weights/],
      [{ method: "MODEL_STOCK", modelIds: [c1, c2], baseModelId, schedule: { kind: "LINEAR" } }, "input.schedule.kind", /must be UNIFORM/],
    ];
    for (const [over, field, message] of cases) {
      const result = await server.gql(START, { i: { anchorId, ...over } });
      expect({ over, code: result.errors?.[0].extensions?.code, field: result.errors?.[0].extensions?.field }).toEqual({ over, code: "BAD_USER_INPUT", field });
      expect(result.errors?.[0].message).toMatch(message);
    }
  });

  test("a MODEL_STOCK tensor whose task vectors cancel out fails the job naming the tensor, leaving no model", async () => {
    const f32 = (values: number[]) => new Uint8Array(Float32Array.from(values).buffer);
    const model = async (name: string, values: number[]) => {
      const { body } = await upload(server.origin, writeSafetensors([{ name: "enc.weight", dtype: "F32", shape: [2], data: f32(values) }]));
      return (await server.ok(REGISTER, { i: { name, taskId, artifactSha256: body.sha256 } })).registerModel.id as string;
    };
    const base = await model("stock-base", [0, 0]);
    const up = await model("stock-up", [1, 2]);
    const down = await model("stock-down", [-1, -2]);
    const before = await server.app.services.database.prisma.model.count();
    const start = await server.ok(START, { i: { anchorId: up, modelIds: [down], baseModelId: base, method: "MODEL_STOCK" } });
    const job = await waitForJob(server, start.startMerge.id);
    expect({ status: job.status, errorCode: job.errorCode, model: job.model }).toEqual({ status: "FAILED", errorCode: "BAD_USER_INPUT", model: null });
    expect(job.error).toMatch(/MODEL_STOCK cannot merge tensor "enc\.weight"/);
    expect(await server.app.services.database.prisma.model.count()).toBe(before);
  });
});
