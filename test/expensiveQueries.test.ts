import { startTestServer, TestServer } from "./support/testServer";
import { seedBasics } from "./support/fixtures";
import { upload } from "./support/http";
import { writeSafetensors } from "../src/core/formats/safetensors/testing/writeSafetensors";

const REGISTER = `mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`;
const TENSORS = 2000;

/** A model of TENSORS tiny parameter tensors, one module each: planning a merge visits them all. */
function wideModel(seed: number): Uint8Array {
  return writeSafetensors(Array.from({ length: TENSORS }, (_, i) => ({ name: `blocks.${i}.weight`, dtype: "F32" as const, shape: [2], data: new Uint8Array(new Float32Array([seed, i]).buffer) })));
}

describe("expensive fields", () => {
  let server: TestServer;
  let ids: string[];
  beforeAll(async () => {
    server = await startTestServer("sqlite");
    const { task } = await seedBasics(server);
    ids = [];
    for (let seed = 0; seed < 3; seed++) {
      const { body } = await upload(server.origin, wideModel(seed));
      ids.push((await server.ok(REGISTER, { i: { name: `wide-${seed}`, taskId: task.id, artifactSha256: body.sha256 } })).registerModel.id);
    }
  });
  afterAll(() => server.stop());

  const plans = (count: number) =>
    `{ ${Array.from({ length: count }, (_, i) => `p${i}: mergePlan(input: { anchorId: "${ids[0]}", modelIds: ["${ids[1]}", "${ids[2]}"] }) { layerCount mergedTensorCount copiedTensorCount expectedOutputBytes }`).join(" ")} }`;

  test("1,000 aliases of mergePlan are refused by their cost before any plan is made", async () => {
    const preview = jest.spyOn(server.app.services.merges, "preview");
    try {
      const result = await server.gql(plans(1000));
      expect(result.status).toBe(400);
      // Each plan: 150 per input model × 3 inputs, + 1 for the plan; its fields are scalars.
      expect(result.errors?.[0].extensions).toMatchObject({ code: "QUERY_TOO_COMPLEX", complexity: 1000 * (3 * 150 + 1) });
      expect(preview).not.toHaveBeenCalled();
    } finally {
      preview.mockRestore();
    }
  });

  test("/healthz is answered while the most expensive accepted query runs, not after it", async () => {
    // Ten plans (the cap on expensive fields) of three 2,000-tensor models fit the default budget.
    const original = server.app.services.merges.preview.bind(server.app.services.merges);
    let firstPlanStarted!: () => void;
    const started = new Promise<void>((resolve) => (firstPlanStarted = resolve));
    const preview = jest.spyOn(server.app.services.merges, "preview").mockImplementation((request) => {
      firstPlanStarted();
      return original(request);
    });
    try {
      const finished: string[] = [];
      const query = server.gql(plans(10)).then((result) => {
        finished.push("query");
        return result;
      });
      await started;
      const health = fetch(`${server.origin}/healthz`).then(async (res) => {
        finished.push("healthz");
        return res.status;
      });
      const [result, healthStatus] = await Promise.all([query, health]);
      expect(result.errors).toBeUndefined();
      expect(Object.keys(result.data)).toHaveLength(10);
      expect(result.data.p9.mergedTensorCount).toBe(TENSORS);
      expect(healthStatus).toBe(200);
      expect(preview).toHaveBeenCalledTimes(10);
      expect(finished).toEqual(["healthz", "query"]);
    } finally {
      preview.mockRestore();
    }
  });
});
