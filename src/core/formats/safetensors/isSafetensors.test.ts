import { bufferSource } from "../byteSource";
import { isSafetensors } from "./isSafetensors";
import { writeSafetensors } from "./testing/writeSafetensors";

describe("isSafetensors", () => {
  it("recognises a safetensors file", () => {
    expect(isSafetensors(bufferSource(writeSafetensors([{ name: "a.w", dtype: "F32", shape: [2] }])))).toBe(true);
  });

  it("rejects short files, ONNX-like bytes and implausible lengths", () => {
    expect(isSafetensors(bufferSource(new Uint8Array(0)))).toBe(false);
    // ModelProto: field 1 (ir_version) varint 8, field 2 producer_name…
    expect(isSafetensors(bufferSource(Uint8Array.from([0x08, 0x08, 0x12, 0x07, 0x70, 0x79, 0x74, 0x6f, 0x72, 0x63, 0x68, 0x00])))).toBe(false);
    const tooLong = new Uint8Array(16);
    tooLong.set([0x08, 0, 0, 0, 0, 0, 0, 0, 0x7b]); // says 8 header bytes, but only 8 follow: fine
    expect(isSafetensors(bufferSource(tooLong))).toBe(true);
    tooLong[0] = 0x09; // 9 header bytes cannot fit
    expect(isSafetensors(bufferSource(tooLong))).toBe(false);
  });
});
