import { DomainError } from "../../errors";
import { bufferSource } from "../byteSource";
import { parseOnnx, type OnnxMetadata } from "./parseOnnx";
import { buildSegNet } from "./testing/buildSegNet";
import { judgeOnnx } from "./testing/judgeOnnx";
import { type TestGraph, type TestModel, type TestNode, writeOnnxModel } from "./testing/onnxModelWriter";

/**
 * Node inputs must name an initializer, a graph input or some node's output (of the graph or,
 * inside a subgraph, of an enclosing graph). Each case is also put to the independent judge,
 * which must agree.
 */

const f32 = (name: string, shape: number[]) => ({ name, dtype: "F32" as const, shape });

/** x → Conv(w, b) → y → Relu → z. */
function model(change: (m: TestModel) => void = () => {}): Uint8Array {
  const m: TestModel = {
    inputs: [f32("x", [1, 1, 2, 2])],
    outputs: [f32("z", [1, 1, 2, 2])],
    nodes: [
      { opType: "Conv", name: "conv", inputs: ["x", "w", "b"], outputs: ["y"] },
      { opType: "Relu", name: "relu", inputs: ["y"], outputs: ["z"] },
    ],
    initializers: [
      { name: "w", dtype: "F32", dims: [1, 1, 1, 1], values: [2] },
      { name: "b", dtype: "F32", dims: [1], values: [0.5] },
    ],
  };
  change(m);
  return writeOnnxModel(m).bytes;
}

function refused(bytes: Uint8Array, message: RegExp, details?: Record<string, unknown>): void {
  let error: unknown;
  try {
    parseOnnx(bufferSource(bytes));
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(DomainError);
  expect((error as DomainError).code).toBe("BAD_USER_INPUT");
  expect((error as DomainError).message).toMatch(message);
  if (details) expect((error as DomainError).details).toMatchObject(details);
  expect(judgeOnnx(bytes).valid).toBe(false);
}

function accepted(bytes: Uint8Array) {
  expect(judgeOnnx(bytes)).toEqual({ valid: true });
  return parseOnnx(bufferSource(bytes));
}

/** y → If(cond) { then: Identity(y) | else: Mul(y, s) } → z. */
function withIf(then: TestNode[], otherwise: TestNode[] = [{ opType: "Mul", name: "else_mul", inputs: ["y", "s"], outputs: ["e_out"] }]): Uint8Array {
  return model((m) => {
    m.inputs.push({ name: "cond", dtype: "U8", shape: [] });
    const branch = (name: string, nodes: TestNode[], out: string): TestGraph => ({
      name, inputs: [], outputs: [f32(out, [1, 1, 2, 2])], nodes,
      initializers: name === "else" ? [{ name: "s", dtype: "F32", dims: [], values: [3] }] : [],
    });
    m.nodes[1] = {
      opType: "If", name: "if", inputs: ["cond"], outputs: ["z"],
      attributes: [{ name: "then_branch", graph: branch("then", then, "t_out") }, { name: "else_branch", graph: branch("else", otherwise, "e_out") }],
    };
  });
}

describe("parseOnnx: every node input names something", () => {
  it("accepts a complete model", () => {
    expect(accepted(model()).tensors.map((t) => t.name)).toEqual(["w", "b"]);
  });

  it("refuses a Conv whose weight input was renamed, naming the node and the input", () => {
    refused(model((m) => (m.nodes[0].inputs[1] = "w_renamed")),
      /Conv node "conv" in the graph has input 1 "w_renamed", which names no initializer, graph input or node output/,
      { node: "conv", input: "w_renamed", slot: 1 });
  });

  it("refuses a model whose initializer was removed, and an input naming a graph output only", () => {
    refused(model((m) => m.initializers.splice(0, 1)), /Conv node "conv" .* input 1 "w"/);
    refused(model((m) => {
      m.outputs.push(f32("only_an_output", [1]));
      m.nodes[1].inputs[0] = "only_an_output";
    }), /Relu node "relu" .* input 0 "only_an_output"/);
  });

  it("accepts an empty input (an omitted optional one)", () => {
    const parsed = accepted(model((m) => {
      m.nodes[0].inputs[2] = "";
      m.initializers.splice(1, 1);
    }));
    expect(parsed.tensors.map((t) => t.name)).toEqual(["w"]);
  });

  it("accepts producers listed after their consumers, and repairs the order", () => {
    const parsed = accepted(model((m) => m.nodes.reverse()));
    expect((parsed.metadata as unknown as OnnxMetadata).nodeOrderRepaired).toBe(true);
    // The builder's unsorted variants too.
    accepted(buildSegNet({ nodeOrder: "unsorted" }).bytes);
    accepted(buildSegNet({ dtype: "F16", nodeOrder: "unsorted" }).bytes);
  });

  it("accepts subgraphs using their own values and the enclosing graph's", () => {
    const parsed = accepted(withIf([{ opType: "Identity", name: "then_id", inputs: ["y"], outputs: ["t_out"] }]));
    expect((parsed.metadata as unknown as OnnxMetadata).subgraphCount).toBe(2);
  });

  it("refuses a subgraph node input that names nothing in any enclosing graph, naming the node and the subgraph", () => {
    refused(withIf([{ opType: "Identity", name: "then_id", inputs: ["nowhere"], outputs: ["t_out"] }]),
      /Identity node "then_id" in the "then_branch" subgraph of If node "if" \(in the graph\) has input 0 "nowhere"/,
      { node: "then_id", input: "nowhere", slot: 0 });
    // The else branch's own initializer is not visible to the then branch.
    refused(withIf([{ opType: "Identity", name: "then_id", inputs: ["s"], outputs: ["t_out"] }]), /"then_id" .* input 0 "s"/);
  });

  it("refuses a main-graph node that uses a value defined only inside a subgraph", () => {
    const bytes = withIf([{ opType: "Identity", name: "then_id", inputs: ["y"], outputs: ["t_out"] }]);
    const leak = model((m) => {
      m.inputs.push({ name: "cond", dtype: "U8", shape: [] });
      m.nodes[1] = {
        opType: "If", name: "if", inputs: ["cond"], outputs: ["z0"],
        attributes: [
          { name: "then_branch", graph: { inputs: [], outputs: [f32("t_out", [1])], nodes: [{ opType: "Identity", name: "then_id", inputs: ["y"], outputs: ["t_out"] }], initializers: [] } },
          { name: "else_branch", graph: { inputs: [], outputs: [f32("t_out", [1])], nodes: [{ opType: "Identity", name: "else_id", inputs: ["y"], outputs: ["t_out"] }], initializers: [] } },
        ],
      };
      m.nodes.push({ opType: "Relu", name: "after", inputs: ["t_out"], outputs: ["z"] });
    });
    accepted(bytes);
    refused(leak, /Relu node "after" in the graph has input 0 "t_out"/);
  });

  it("resolves names through nested subgraphs (a Loop body holding an If) and their inputs", () => {
    const loop = (innerInput: string) => model((m) => {
      m.inputs.push({ name: "trips", dtype: "I64", shape: [] });
      const inner: TestGraph = { inputs: [], outputs: [f32("i_out", [1])], nodes: [{ opType: "Add", name: "inner_add", inputs: [innerInput, "w"], outputs: ["i_out"] }], initializers: [] };
      const body: TestGraph = {
        inputs: [{ name: "iter", dtype: "I64", shape: [] }, { name: "keep", dtype: "U8", shape: [] }, f32("carried", [1, 1, 2, 2])],
        outputs: [{ name: "keep_out", dtype: "U8", shape: [] }, f32("carried_out", [1, 1, 2, 2])],
        nodes: [
          { opType: "Identity", name: "keep_id", inputs: ["keep"], outputs: ["keep_out"] },
          { opType: "If", name: "inner_if", inputs: ["keep"], outputs: ["carried_out"], attributes: [{ name: "then_branch", graph: inner }, { name: "else_branch", graph: inner }] },
        ],
        initializers: [],
      };
      m.nodes[1] = { opType: "Loop", name: "loop", inputs: ["trips", "", "y"], outputs: ["z"], attributes: [{ name: "body", graph: body }] };
    });
    accepted(loop("carried")); // the Loop body's input, two levels up from "w"'s graph
    accepted(loop("y"));
    refused(loop("keep_outx"), /Add node "inner_add" in the "then_branch" subgraph of If node "inner_if" \(in the "body" subgraph of Loop node "loop" \(in the graph\)\) has input 0 "keep_outx"/);
  });

  it("reads the repeated graphs attribute form too", () => {
    const bytes = (input: string) => model((m) => {
      m.nodes[1] = { opType: "Custom", domain: "test.domain", name: "multi", inputs: ["y"], outputs: ["z"], attributes: [{ name: "bodies", graphs: [
        { inputs: [], outputs: [f32("a", [1])], nodes: [{ opType: "Identity", name: "g0", inputs: ["y"], outputs: ["a"] }], initializers: [] },
        { inputs: [], outputs: [f32("a", [1])], nodes: [{ opType: "Identity", name: "g1", inputs: [input], outputs: ["a"] }], initializers: [] },
      ] }] };
    });
    accepted(bytes("x"));
    refused(bytes("q"), /Identity node "g1" in the "bodies" subgraph of Custom node "multi"/);
  });

  it("refuses names that are not UTF-8", () => {
    const bytes = model((m) => {
      m.nodes[0].inputs[1] = "wé";
      m.initializers[0].name = "wé";
    });
    accepted(bytes);
    const corrupt = Uint8Array.from(bytes);
    const at = Buffer.from(corrupt).indexOf(Buffer.from("wé", "utf8"));
    corrupt[at + 1] = 0xff; // the first byte of é's two
    refused(corrupt, /not valid UTF-8/);
  });
});
