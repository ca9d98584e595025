/**
 * A strict JSON reader and writer for safetensors headers.
 *
 * `JSON.parse` is not enough here: it silently keeps the last of duplicate keys (a header could
 * then hide a tensor that still occupies bytes) and it moves integer-like keys (`"0"`, `"12"`)
 * to the front of an object, which would reorder tensors when the merge writer re-serialises
 * the anchor's header. Objects are therefore read into `Map`s, in file order, and duplicate keys
 * are refused.
 */
export type JsonValue = null | boolean | number | string | JsonNumberText | JsonValue[] | JsonObject;
export type JsonObject = Map<string, JsonValue>;

/**
 * A number written with a fraction, an exponent or as `-0`. The reference implementation reads
 * dims and offsets as unsigned integers, which refuses `1.0`, `1e2` and `-0`; reading them as
 * JavaScript numbers would accept them. Such numbers are therefore kept apart, as written (so the
 * merge writer also re-serialises them byte for byte).
 */
export class JsonNumberText {
  constructor(readonly text: string) {}
  get value(): number {
    return Number(this.text);
  }
}

export class JsonSyntaxError extends Error {
  constructor(message: string, readonly position: number) {
    super(`${message} at character ${position} of the header`);
    this.name = "JsonSyntaxError";
  }
}

/** Nesting bound: a real header is 3 levels deep; a hostile one must not exhaust the stack. */
const MAX_DEPTH = 64;

export function isJsonObject(value: JsonValue | undefined): value is JsonObject {
  return value instanceof Map;
}

export function parseHeaderJson(text: string): JsonValue {
  const reader = new Reader(text);
  reader.skipSpace();
  const value = reader.value(0);
  reader.skipSpace();
  if (reader.pos !== text.length) throw new JsonSyntaxError("unexpected text after the JSON value", reader.pos);
  return value;
}

class Reader {
  pos = 0;
  constructor(private readonly text: string) {}

  skipSpace(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      this.pos++;
    }
  }

  value(depth: number): JsonValue {
    if (depth > MAX_DEPTH) throw new JsonSyntaxError(`JSON nested deeper than ${MAX_DEPTH} levels`, this.pos);
    const c = this.text[this.pos];
    switch (c) {
      case "{": return this.object(depth);
      case "[": return this.array(depth);
      case "\"": return this.string();
      case "t": return this.literal("true", true);
      case "f": return this.literal("false", false);
      case "n": return this.literal("null", null);
      default:
        if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) return this.number();
        throw new JsonSyntaxError(c === undefined ? "unexpected end of JSON" : `unexpected character ${JSON.stringify(c)}`, this.pos);
    }
  }

  private object(depth: number): JsonObject {
    const out: JsonObject = new Map();
    this.pos++;
    this.skipSpace();
    if (this.text[this.pos] === "}") { this.pos++; return out; }
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] !== "\"") throw new JsonSyntaxError("expected a quoted key", this.pos);
      const keyAt = this.pos;
      const key = this.string();
      if (out.has(key)) throw new JsonSyntaxError(`duplicate key ${JSON.stringify(key)}`, keyAt);
      this.skipSpace();
      this.expect(":");
      this.skipSpace();
      out.set(key, this.value(depth + 1));
      this.skipSpace();
      if (this.text[this.pos] === ",") { this.pos++; continue; }
      this.expect("}");
      return out;
    }
  }

  private array(depth: number): JsonValue[] {
    const out: JsonValue[] = [];
    this.pos++;
    this.skipSpace();
    if (this.text[this.pos] === "]") { this.pos++; return out; }
    for (;;) {
      this.skipSpace();
      out.push(this.value(depth + 1));
      this.skipSpace();
      if (this.text[this.pos] === ",") { this.pos++; continue; }
      this.expect("]");
      return out;
    }
  }

  private string(): string {
    const t = this.text;
    const start = ++this.pos;
    let out = "";
    let runStart = start;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c === 0x22) {
        out += t.slice(runStart, this.pos);
        this.pos++;
        checkSurrogates(out, start - 1);
        return out;
      }
      if (c < 0x20) throw new JsonSyntaxError("control character inside a string", this.pos);
      if (c === 0x5c) {
        out += t.slice(runStart, this.pos);
        out += this.escape();
        runStart = this.pos;
        continue;
      }
      this.pos++;
    }
    throw new JsonSyntaxError("unterminated string", start - 1);
  }

  private escape(): string {
    const t = this.text;
    const e = t[this.pos + 1];
    this.pos += 2;
    switch (e) {
      case "\"": return "\"";
      case "\\": return "\\";
      case "/": return "/";
      case "b": return "\b";
      case "f": return "\f";
      case "n": return "\n";
      case "r": return "\r";
      case "t": return "\t";
      case "u": {
        const hex = t.slice(this.pos, this.pos + 4);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new JsonSyntaxError("bad \\u escape", this.pos - 2);
        this.pos += 4;
        return String.fromCharCode(parseInt(hex, 16));
      }
      default:
        throw new JsonSyntaxError("bad escape sequence", this.pos - 2);
    }
  }

  private number(): number | JsonNumberText {
    const match = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
    match.lastIndex = this.pos;
    const m = match.exec(this.text);
    if (!m) throw new JsonSyntaxError("malformed number", this.pos);
    this.pos += m[0].length;
    return /^-?[0-9]+$/.test(m[0]) && m[0] !== "-0" ? Number(m[0]) : new JsonNumberText(m[0]);
  }

  private literal<T extends JsonValue>(word: string, value: T): T {
    if (this.text.startsWith(word, this.pos)) { this.pos += word.length; return value; }
    throw new JsonSyntaxError(`unexpected character ${JSON.stringify(this.text[this.pos])}`, this.pos);
  }

  private expect(c: string): void {
    if (this.text[this.pos] !== c) {
      const found = this.text[this.pos];
      throw new JsonSyntaxError(found === undefined ? `expected ${JSON.stringify(c)} but the JSON ended` : `expected ${JSON.stringify(c)}, found ${JSON.stringify(found)}`, this.pos);
    }
    this.pos++;
  }
}

/**
 * Only a `\\u` escape can put a lone UTF-16 surrogate in a string (the text was decoded from
 * strict UTF-8); such a string is not Unicode text, and the reference implementation refuses it.
 */
function checkSurrogates(s: string, at: number): void {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    const next = s.charCodeAt(i + 1);
    if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) { i++; continue; }
    throw new JsonSyntaxError("unpaired UTF-16 surrogate escape in a string", at);
  }
}

/** Compact JSON in the value's own key order; the inverse of `parseHeaderJson` for its output. */
export function serializeHeaderJson(value: JsonValue): string {
  if (value === null || typeof value === "boolean" || typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number") return Number.isFinite(value) ? JSON.stringify(value) : "null";
  if (value instanceof JsonNumberText) return value.text;
  if (Array.isArray(value)) return `[${value.map(serializeHeaderJson).join(",")}]`;
  const parts: string[] = [];
  for (const [k, v] of value) parts.push(`${JSON.stringify(k)}:${serializeHeaderJson(v)}`);
  return `{${parts.join(",")}}`;
}
