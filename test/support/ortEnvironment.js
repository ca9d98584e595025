// Jest test environment for suites that run onnxruntime-node in-process.
//
// Jest evaluates each test file in its own vm context (another JS realm) whose typed-array
// constructors are not the main realm's. onnxruntime-node creates OUTPUT tensors in the main realm,
// and onnxruntime-common's Tensor constructor checks `data instanceof Float32Array` against the
// test realm's constructor, so every session.run inside jest throws "A float32 tensor's data must
// be type of Float32Array". jest-environment-node already shares Buffer, ArrayBuffer and
// Uint8Array with the main realm for the same reason (TextEncoder); this shares the rest of the
// binary-data family, so `instanceof` agrees in both directions.
//
// Use: `testEnvironment: "<rootDir>/test/support/ortEnvironment.js"` in jest.config.js, or per
// file a docblock `/** @jest-environment ./test/support/ortEnvironment.js */`.
const { TestEnvironment } = require("jest-environment-node");

const SHARED = [
  "ArrayBuffer",
  "SharedArrayBuffer",
  "DataView",
  "Int8Array",
  "Uint8Array",
  "Uint8ClampedArray",
  "Int16Array",
  "Uint16Array",
  "Int32Array",
  "Uint32Array",
  "Float32Array",
  "Float64Array",
  "BigInt64Array",
  "BigUint64Array",
  // Node 24+ (and onnxruntime-common's float16 path when present).
  "Float16Array",
];

class OrtEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) {
      if (typeof globalThis[name] === "function") this.global[name] = globalThis[name];
    }
  }
}

module.exports = OrtEnvironment;
