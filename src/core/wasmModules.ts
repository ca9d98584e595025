/** The part of the WebAssembly JS API used here (the project's TypeScript lib has no DOM types). */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule) => { exports: unknown };
}
type WasmModule = { readonly __brand: "WebAssembly.Module" };
const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

/** Compiled modules of this thread by their base64 bytes; null where the runtime cannot run them. */
const compiled = new Map<string, WasmModule | null>();

/**
 * A new instance of the module whose bytes are `base64` (compiled once per thread), as its
 * exports; null when the runtime lacks WebAssembly or does not validate the module (no SIMD).
 */
export function instantiateWasm(base64: string): unknown {
  let module = compiled.get(base64);
  if (module === undefined) {
    const bytes = Buffer.from(base64, "base64");
    module = wasm && wasm.validate(bytes) ? new wasm.Module(bytes) : null;
    compiled.set(base64, module);
  }
  return module && wasm ? new wasm.Instance(module).exports : null;
}
