/**
 * An independent verdict on a safetensors file, for fuzz tests: is this file valid by the format's
 * specification? Written from the specification alone and sharing no code with the reader
 * (readSafetensorsHeader / headerJson), so that a bug in the reader is not repeated here.
 *
 * The rules, as the specification states them:
 * - 8 bytes: N, an unsigned little-endian 64-bit integer, the header's size; N ≤ 100,000,000.
 * - N bytes: a UTF-8 JSON object. It begins with `{` and may be padded at the end with spaces
 *   (0x20). Duplicate keys are not allowed. The reserved key `__metadata__` maps strings to
 *   strings; every other key is a tensor: { "dtype": D, "shape": [d, ...], "data_offsets": [B, E] }
 *   with non-negative integer dims and offsets (written as plain integers, as the reference
 *   implementation's JSON reader requires).
 * - The rest of the file is the byte buffer. Offsets are relative to its start; a tensor holds
 *   exactly (product of dims) × (dtype size) bytes; the buffer is entirely indexed, without holes
 *   or overlaps: sorted by offsets, the first tensor begins at 0, each begins where the previous
 *   ended (an empty tensor sits at that running end), and the last ends at the end of the file.
 */

/** A tensor as the judge reads it: its bytes at [offset, offset + length) of the file. */
export interface JudgedTensor {
  name: string;
  dtype: string;
  shape: number[];
  offset: number;
  length: number;
}

export type Verdict = { valid: true; tensors: JudgedTensor[] } | { valid: false; reason: string };

const MAX_HEADER = 100_000_000;

/** Bytes per element, from the specification's dtype list (sub-byte types are sized in bits). */
const DTYPE_BITS: Record<string, number> = {
  BOOL: 8, U8: 8, I8: 8, F8_E5M2: 8, F8_E4M3: 8, F8_E8M0: 8, I16: 16, U16: 16, F16: 16, BF16: 16,
  I32: 32, U32: 32, F32: 32, C64: 64, F64: 64, I64: 64, U64: 64, F4: 4, F6_E2M3: 6, F6_E3M2: 6,
};

class Invalid extends Error {}

function fail(reason: string): never {
  throw new Invalid(reason);
}

export function judgeSafetensors(file: Uint8Array): Verdict {
  try {
    return { valid: true, tensors: check(file) };
  } catch (e) {
    if (e instanceof Invalid) return { valid: false, reason: e.message };
    throw e;
  }
}

function check(file: Uint8Array): JudgedTensor[] {
  if (file.length < 8) fail("shorter than the 8-byte length");
  let n = 0n;
  for (let i = 7; i >= 0; i--) n = (n << 8n) | BigInt(file[i]!);
  if (n > BigInt(MAX_HEADER)) fail(`header length ${n} exceeds ${MAX_HEADER}`);
  const headerSize = Number(n);
  if (8 + headerSize > file.length) fail("header runs past the end of the file");
  const header = file.subarray(8, 8 + headerSize);
  if (header[0] !== 0x7b) fail("header does not begin with {");
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(header);
  } catch {
    fail("header is not UTF-8");
  }
  const json = new Json(text);
  const top = json.parseValue(0);
  // Only space padding may follow the object.
  for (let i = json.at; i < text.length; i++) if (text[i] !== " ") fail(`byte ${i} after the header object is not a space`);
  if (!(top instanceof Obj)) fail("header is not an object");

  const dataSize = BigInt(file.length - 8 - headerSize);
  const spans: Array<{ name: string; dtype: string; shape: number[]; begin: bigint; end: bigint }> = [];
  for (const [key, value] of top.entries) {
    if (key === "__metadata__") {
      if (!(value instanceof Obj)) fail("__metadata__ is not an object");
      for (const [k, v] of value.entries) if (typeof v !== "string") fail(`__metadata__ value of ${k} is not a string`);
      continue;
    }
    if (!(value instanceof Obj)) fail(`tensor ${key} is not an object`);
    const fields = new Map(value.entries);
    const dtype = fields.get("dtype");
    if (typeof dtype !== "string" || !(dtype in DTYPE_BITS)) fail(`tensor ${key} has no known dtype`);
    const shape = fields.get("shape");
    if (!Array.isArray(shape) || !shape.every(isUInt)) fail(`tensor ${key} has a bad shape`);
    const offsets = fields.get("data_offsets");
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isUInt)) fail(`tensor ${key} has bad data_offsets`);
    const begin = (offsets[0] as UInt).value;
    const end = (offsets[1] as UInt).value;
    let bits = BigInt(DTYPE_BITS[dtype]!);
    for (const d of shape as UInt[]) bits *= d.value;
    if (bits % 8n !== 0n) fail(`tensor ${key} is not a whole number of bytes`);
    if (end < begin || end - begin !== bits / 8n) fail(`tensor ${key} spans ${end - begin} bytes, needs ${bits / 8n}`);
    spans.push({ name: key, dtype, shape: (shape as UInt[]).map((d) => Number(d.value)), begin, end });
  }
  spans.sort((a, b) => (a.begin < b.begin ? -1 : a.begin > b.begin ? 1 : a.end < b.end ? -1 : a.end > b.end ? 1 : 0));
  let running = 0n;
  for (const s of spans) {
    if (s.begin !== running) fail(`tensor ${s.name} begins at ${s.begin}, expected ${running}`);
    running = s.end;
  }
  if (running !== dataSize) fail(`tensors cover ${running} of the ${dataSize}-byte buffer`);
  const dataStart = 8 + headerSize;
  return spans.map((s) => ({ name: s.name, dtype: s.dtype, shape: s.shape, offset: dataStart + Number(s.begin), length: Number(s.end - s.begin) }));
}

function isUInt(v: unknown): v is UInt {
  return v instanceof UInt;
}

/** A JSON number written as a plain non-negative integer. */
class UInt {
  constructor(readonly value: bigint) {}
}
/** Any other JSON number (sign, fraction or exponent): valid JSON, never a dim or an offset. */
class OtherNumber {}
class Obj {
  constructor(readonly entries: Array<[string, Value]>) {}
}
type Value = null | boolean | string | UInt | OtherNumber | Obj | Value[];

/** A JSON reader that keeps every key (to see duplicates) and integers exactly. */
class Json {
  at = 0;
  constructor(private readonly s: string) {}

  private ws(): void {
    while (this.at < this.s.length && " \t\n\r".includes(this.s[this.at]!)) this.at++;
  }

  parseValue(depth: number): Value {
    if (depth > 100) fail("JSON too deep");
    const c = this.s[this.at];
    if (c === "{") {
      this.at++;
      const entries: Array<[string, Value]> = [];
      const keys = new Set<string>();
      this.ws();
      if (this.s[this.at] === "}") { this.at++; return new Obj(entries); }
      for (;;) {
        this.ws();
        if (this.s[this.at] !== "\"") fail(`expected a key at ${this.at}`);
        const key = this.str();
        if (keys.has(key)) fail(`duplicate key ${key}`);
        keys.add(key);
        this.ws();
        if (this.s[this.at++] !== ":") fail(`expected : at ${this.at - 1}`);
        this.ws();
        entries.push([key, this.parseValue(depth + 1)]);
        this.ws();
        const sep = this.s[this.at++];
        if (sep === "}") return new Obj(entries);
        if (sep !== ",") fail(`expected , or } at ${this.at - 1}`);
      }
    }
    if (c === "[") {
      this.at++;
      const items: Value[] = [];
      this.ws();
      if (this.s[this.at] === "]") { this.at++; return items; }
      for (;;) {
        this.ws();
        items.push(this.parseValue(depth + 1));
        this.ws();
        const sep = this.s[this.at++];
        if (sep === "]") return items;
        if (sep !== ",") fail(`expected , or ] at ${this.at - 1}`);
      }
    }
    if (c === "\"") return this.str();
    for (const [word, value] of [["true", true], ["false", false], ["null", null]] as const) {
      if (this.s.startsWith(word, this.at)) { this.at += word.length; return value; }
    }
    const m = /^(-?)(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?/.exec(this.s.slice(this.at, this.at + 400));
    if (!m || m[0].length === 0) fail(`unexpected ${JSON.stringify(c)} at ${this.at}`);
    this.at += m[0].length;
    if (m[0].length === 400) fail("number too long");
    return m[1] === "" && m[3] === undefined && m[4] === undefined ? new UInt(BigInt(m[2]!)) : new OtherNumber();
  }

  private str(): string {
    this.at++; // opening quote
    let out = "";
    for (;;) {
      if (this.at >= this.s.length) fail("unterminated string");
      const c = this.s.charCodeAt(this.at++);
      if (c === 0x22) break;
      if (c < 0x20) fail("control character in a string");
      if (c !== 0x5c) { out += String.fromCharCode(c); continue; }
      const e = this.s[this.at++];
      const simple: Record<string, string> = { "\"": "\"", "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };
      if (e !== undefined && e in simple) { out += simple[e]; continue; }
      if (e !== "u") fail("bad escape");
      const hex = this.s.slice(this.at, this.at + 4);
      if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail("bad \\u escape");
      this.at += 4;
      out += String.fromCharCode(parseInt(hex, 16));
    }
    // Unpaired surrogates (only \u escapes can make them) are not Unicode text.
    if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(out)) fail("string with an unpaired surrogate");
    return out;
  }
}
