import { DomainError } from "../core/errors";
import { checkInferenceContract, storedNormalization } from "./inferenceContract";

describe("inference contract: normalization", () => {
  it("defaults to DIVIDE, keeps MMCV, and rejects anything else naming the field", () => {
    expect(checkInferenceContract({}).normalization).toBe("DIVIDE");
    expect(checkInferenceContract({ normalization: "MMCV" as never }).normalization).toBe("MMCV");
    let error: unknown;
    try {
      checkInferenceContract({ normalization: "mmcv" as never }, "model.inference");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).field).toBe("model.inference.normalization");
    expect((error as DomainError).message).toMatch(/model\.inference\.normalization must be one of DIVIDE, MMCV/);
  });

  it("reads a stored contract without the field as DIVIDE", () => {
    expect(storedNormalization({})).toBe("DIVIDE");
    expect(storedNormalization({ normalization: null })).toBe("DIVIDE");
    expect(storedNormalization({ normalization: "MMCV" })).toBe("MMCV");
  });
});
