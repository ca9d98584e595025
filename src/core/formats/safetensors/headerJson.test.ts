import * as fs from "node:fs";
import * as path from "node:path";
import { JsonNumberText, JsonSyntaxError, parseHeaderJson, serializeHeaderJson } from "./headerJson";

describe("headerJson", () => {
  it("reads objects in file order, integer-like keys included", () => {
    const value = parseHeaderJson("{\"b\":1,\"10\":2,\"2\":[true,false,null,\"s\"]}");
    expect(value).toEqual(new Map<string, unknown>([["b", 1], ["10", 2], ["2", [true, false, null, "s"]]]));
    expect(serializeHeaderJson(value)).toBe("{\"b\":1,\"10\":2,\"2\":[true,false,null,\"s\"]}");
  });

  it("decodes escapes and integers as JSON.parse does", () => {
    const text = "[\"a\\\"b\\\\c\\/\\n\\u00e9\\ud83d\\ude00\", -5, 0, 123456789012]";
    expect(parseHeaderJson(text)).toEqual(JSON.parse(text));
  });

  it("keeps numbers with a fraction or an exponent, and -0, as written", () => {
    const value = parseHeaderJson("[-0.5,1e3,1.0,-0,7]") as unknown[];
    expect(value.map((v) => (v instanceof JsonNumberText ? ["text", v.text, v.value] : v))).toEqual([["text", "-0.5", -0.5], ["text", "1e3", 1000], ["text", "1.0", 1], ["text", "-0", -0], 7]);
    expect(serializeHeaderJson(parseHeaderJson("{\"x\":[1.50,2E+2]}"))).toBe("{\"x\":[1.50,2E+2]}");
  });

  it("refuses duplicate keys, trailing text, bad numbers and deep nesting", () => {
    expect(() => parseHeaderJson("{\"a\":1,\"a\":2}")).toThrow(/duplicate key "a"/);
    expect(() => parseHeaderJson("{} {}")).toThrow(JsonSyntaxError);
    expect(() => parseHeaderJson("[01]")).toThrow(JsonSyntaxError);
    expect(() => parseHeaderJson("[1,]")).toThrow(JsonSyntaxError);
    expect(() => parseHeaderJson("{\"a\":1,}")).toThrow(JsonSyntaxError);
    expect(() => parseHeaderJson("\"\u0001\"")).toThrow(/control character/);
    expect(() => parseHeaderJson("[".repeat(100000))).toThrow(/nested deeper/);
  });

  it("re-serialises the reference writer's compact header to the same text", () => {
    const file = fs.readFileSync(path.join(__dirname, "testing", "fixtures", "official_sorted.safetensors"));
    const n = Number(file.readBigUInt64LE(0));
    const text = file.subarray(8, 8 + n).toString("utf8").trimEnd();
    expect(serializeHeaderJson(parseHeaderJson(text))).toBe(text);
  });
});
