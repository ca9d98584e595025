import * as zlib from "node:zlib";

/**
 * An independent verdict on a PyTorch checkpoint, for fuzz tests. Written apart from the reader
 * (it shares no code with formats/pytorch): a file is valid when
 *  - zip: the end record and central directory are consistent (every entry's local header agrees
 *    on its name, its data lies inside the file before the directory, names are safe relative
 *    paths, entries are unique and do not overlap) and every tensor entry (`<dir>/data/<key>`) is
 *    stored uncompressed; legacy: magic number, protocol 1001, little-endian sys_info, then the
 *    storages exactly filling the rest of the file;
 *  - every pickle is a well-formed opcode stream ending in STOP with one value left;
 *  - it names only the globals a checkpoint may name;
 *  - every persistent id names a storage that exists;
 *  - each tensor's storage holds at least (offset + reach) · itemsize bytes, where reach is the
 *    furthest element its shape and strides touch (numel for a contiguous tensor).
 * CRCs are not checked (the reader maps tensor bytes without reading them).
 */
export type PytorchVerdict = { valid: true } | { valid: false; reason: string };

const ALLOWED = new Set([
  "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
  "torch._utils._rebuild_parameter_with_state", "torch._tensor._rebuild_from_type_v2", "torch.Size", "torch.device",
  "_codecs.encode", "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar", "numpy.dtype",
  "builtins.set", "builtins.frozenset", "__builtin__.set", "__builtin__.frozenset", "torch.Tensor", "torch.nn.parameter.Parameter",
]);
const ITEM_SIZE: Record<string, number> = {
  FloatStorage: 4, DoubleStorage: 8, HalfStorage: 2, BFloat16Storage: 2, LongStorage: 8, IntStorage: 4,
  ShortStorage: 2, CharStorage: 1, ByteStorage: 1, BoolStorage: 1, UntypedStorage: 1,
};
const storageGlobal = (g: string) => /^torch(\.storage)?\.(\w+)$/.exec(g)?.[2];

class Invalid extends Error {}
const no = (reason: string): never => {
  throw new Invalid(reason);
};

/** A value as far as the judge follows it. */
type V = { s: string } | { n: number } | { t: V[] } | { g: string } | { pid: string } | { other: true };
const OTHER: V = { other: true };

interface PickleFacts {
  end: number;
  top: V;
  /** Persistent ids: key → storage type name and declared element count. */
  pids: Array<{ key: string; type: string; numel: number }>;
  /** _rebuild_tensor_v2 calls: key, offset, shape, stride. */
  tensors: Array<{ key: string; offset: number; shape: number[]; stride: number[] }>;
}

function walkPickle(b: Uint8Array, start: number, limit: number): PickleFacts {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let p = start;
  const need = (n: number) => (p + n <= limit ? undefined : no(`pickle cut at ${p}`));
  const line = () => {
    const nl = b.indexOf(0x0a, p);
    if (nl < 0 || nl >= limit) no("unterminated text argument");
    const s = Buffer.from(b.subarray(p, nl)).toString("latin1");
    p = nl + 1;
    return s;
  };
  let stack: V[] = [];
  const marks: V[][] = [];
  const memo = new Map<number, V>();
  const facts: PickleFacts = { end: 0, top: OTHER, pids: [], tensors: [] };
  const pop = (): V => stack.pop() ?? no("stack underflow");
  const popMark = (): V[] => {
    const items = stack;
    stack = marks.pop() ?? no("no mark");
    return items;
  };
  const num = (v: V | undefined) => (v && "n" in v ? v.n : NaN);
  const call = (fn: V, args: V): V => {
    const name = "g" in fn ? fn.g : no("call of a non-global");
    const a = "t" in args ? args.t : no("call arguments not a tuple");
    if (name === "torch._utils._rebuild_tensor_v2") {
      const st = a[0];
      const tuple = (v: V | undefined) => (v && "t" in v ? v.t.map(num) : no("size/stride not a tuple"));
      if (!st || !("pid" in st)) no("tensor over a non-storage");
      facts.tensors.push({ key: (st as { pid: string }).pid, offset: num(a[1]), shape: tuple(a[2]), stride: tuple(a[3]) });
    }
    if (name === "torch.Size") return a[0] ?? { t: [] };
    if (name === "torch._tensor._rebuild_from_type_v2" && a[0] && a[2]) return call(a[0], a[2]);
    return OTHER;
  };
  for (;;) {
    need(1);
    const op = b[p++];
    const fixed = (n: number) => { need(n); const at = p; p += n; return at; };
    const uint = (n: number) => { const at = fixed(n); let v = 0; for (let k = n - 1; k >= 0; k--) v = v * 256 + b[at + k]; return v; };
    const bytes = (n: number) => { if (n > 64 << 20) no("string too long"); const at = fixed(n); return b.subarray(at, at + n); };
    switch (op) {
      case 0x80: if (uint(1) > 5) no("protocol > 5"); break;
      case 0x95: fixed(8); break;
      case 0x2e:
        if (marks.length || stack.length !== 1) no("STOP with marks open or not exactly one value");
        facts.end = p;
        facts.top = stack[0];
        return facts;
      case 0x28: marks.push(stack); stack = []; if (marks.length > 1000) no("too deep"); break;
      case 0x30: pop(); break;
      case 0x31: popMark(); break;
      case 0x32: { const v = pop(); stack.push(v, v); break; }
      case 0x4e: case 0x88: case 0x89: stack.push(OTHER); break;
      case 0x49: case 0x4c: { const t = line().replace(/L$/, ""); if (!/^[+-]?\d+$/.test(t)) no("bad INT"); stack.push({ n: Number(t) }); break; }
      case 0x4a: { const at = fixed(4); stack.push({ n: dv.getInt32(at, true) }); break; }
      case 0x4b: stack.push({ n: uint(1) }); break;
      case 0x4d: stack.push({ n: uint(2) }); break;
      case 0x8a: { const n = uint(1); const raw = bytes(n); let v = 0; for (let k = n - 1; k >= 0; k--) v = v * 256 + raw[k]; if (n && raw[n - 1] & 0x80) v -= 2 ** (8 * n); stack.push({ n: v }); break; }
      case 0x8b: { const at = fixed(4); const n = dv.getInt32(at, true); if (n < 0) no("negative LONG4"); bytes(n); stack.push(OTHER); break; }
      case 0x46: { const t = line(); if (t.trim() === "" || (Number.isNaN(Number(t)) && !/^[+-]?nan$/i.test(t))) no("bad FLOAT"); stack.push(OTHER); break; }
      case 0x47: fixed(8); stack.push(OTHER); break;
      case 0x58: stack.push({ s: Buffer.from(bytes(uint(4))).toString("utf8") }); break;
      case 0x8c: stack.push({ s: Buffer.from(bytes(uint(1))).toString("utf8") }); break;
      case 0x8d: { const lo = uint(4); const hi = uint(4); if (hi) no("huge string"); stack.push({ s: Buffer.from(bytes(lo)).toString("utf8") }); break; }
      case 0x56: stack.push({ s: line() }); break;
      case 0x54: { const at = fixed(4); const n = dv.getInt32(at, true); if (n < 0) no("negative BINSTRING"); stack.push({ s: Buffer.from(bytes(n)).toString("latin1") }); break; }
      case 0x55: stack.push({ s: Buffer.from(bytes(uint(1))).toString("latin1") }); break;
      case 0x53: { const t = line(); const m = /^(['"])(.*)\1$/s.exec(t); if (!m || m[2].includes("\\")) no("bad STRING"); stack.push({ s: m![2] }); break; }
      case 0x42: bytes(uint(4)); stack.push(OTHER); break;
      case 0x43: bytes(uint(1)); stack.push(OTHER); break;
      case 0x8e: case 0x96: { const lo = uint(4); const hi = uint(4); if (hi) no("huge bytes"); bytes(lo); stack.push(OTHER); break; }
      case 0x98: if (!stack.length) no("underflow"); break;
      case 0x5d: case 0x7d: case 0x8f: stack.push(OTHER); break;
      case 0x29: stack.push({ t: [] }); break;
      case 0x6c: case 0x91: popMark(); stack.push(OTHER); break;
      case 0x74: { const items = popMark(); stack.push({ t: items }); break; }
      case 0x85: stack.push({ t: [pop()] }); break;
      case 0x86: { const y = pop(); stack.push({ t: [pop(), y] }); break; }
      case 0x87: { const z = pop(); const y = pop(); stack.push({ t: [pop(), y, z] }); break; }
      case 0x64: if (popMark().length % 2) no("odd DICT"); stack.push(OTHER); break;
      case 0x61: pop(); if (!stack.length) no("APPEND on nothing"); break;
      case 0x65: case 0x90: popMark(); if (!stack.length) no("APPENDS on nothing"); break;
      case 0x73: pop(); pop(); if (!stack.length) no("SETITEM on nothing"); break;
      case 0x75: if (popMark().length % 2) no("odd SETITEMS"); if (!stack.length) no("SETITEMS on nothing"); break;
      case 0x70: case 0x71: case 0x72: case 0x94: {
        const idx = op === 0x70 ? Number(line()) : op === 0x71 ? uint(1) : op === 0x72 ? uint(4) : memo.size;
        if (!stack.length) no("PUT on nothing");
        memo.set(idx, stack[stack.length - 1]);
        break;
      }
      case 0x67: case 0x68: case 0x6a: {
        const idx = op === 0x67 ? Number(line()) : op === 0x68 ? uint(1) : uint(4);
        stack.push(memo.get(idx) ?? no(`GET of unset memo ${idx}`));
        break;
      }
      case 0x63: case 0x93: case 0x69: {
        let g: string;
        if (op === 0x93) { const n = pop(); const m = pop(); g = "s" in m && "s" in n ? `${m.s}.${n.s}` : no("STACK_GLOBAL of non-strings"); }
        else { const m = line(); g = `${m}.${line()}`; }
        const st = storageGlobal(g);
        if (!ALLOWED.has(g) && !(st && st in ITEM_SIZE)) no(`global ${g} not allowed`);
        if (op === 0x69) { popMark(); stack.push(OTHER); } else stack.push({ g });
        break;
      }
      case 0x6f: { const items = popMark(); if (!items.length) no("OBJ without class"); stack.push(call(items[0], { t: items.slice(1) })); break; }
      case 0x52: case 0x81: { const args = pop(); stack.push(call(pop(), args)); break; }
      case 0x92: pop(); { const args = pop(); stack.push(call(pop(), args)); } break;
      case 0x62: pop(); if (!stack.length) no("BUILD on nothing"); break;
      case 0x51: {
        const pid = pop();
        const t = "t" in pid ? pid.t : no("pid not a tuple");
        const [tag, type, key, , numel] = t;
        if (!tag || !("s" in tag) || tag.s !== "storage" || !type || !("g" in type) || !key || !("s" in key) || !numel || !("n" in numel)) no("pid not a storage tuple");
        const st = storageGlobal((type as { g: string }).g)!;
        facts.pids.push({ key: (key as { s: string }).s, type: st, numel: (numel as { n: number }).n });
        stack.push({ pid: (key as { s: string }).s });
        break;
      }
      default: no(`opcode 0x${op.toString(16)} not allowed`);
    }
  }
}

/** Storage key → bytes present; checks pids and tensors against it. */
function checkStorages(facts: PickleFacts, present: Map<string, number>): void {
  const size = new Map<string, number>();
  for (const pid of facts.pids) {
    const have = present.get(pid.key) ?? no(`pid names missing storage ${pid.key}`);
    const item = ITEM_SIZE[pid.type] ?? no(`unknown storage type ${pid.type}`);
    if (have < pid.numel * item) no(`storage ${pid.key} shorter than declared`);
    if (size.has(pid.key) && size.get(pid.key) !== item) no(`storage ${pid.key} with two types`);
    size.set(pid.key, item);
  }
  for (const t of facts.tensors) {
    const item = size.get(t.key) ?? no("tensor over unknown storage");
    if (!(t.offset >= 0) || t.shape.length !== t.stride.length || [...t.shape, ...t.stride].some((d) => !(d >= 0))) no("bad tensor geometry");
    const reach = t.shape.some((d) => d === 0) ? 0 : 1 + t.shape.reduce((e, d, k) => e + (d - 1) * t.stride[k], 0);
    if ((t.offset + reach) * item > present.get(t.key)!) no(`tensor past the end of storage ${t.key}`);
  }
}

function judgeZip(b: Uint8Array): void {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let e = -1;
  for (let k = b.length - 22; k >= Math.max(0, b.length - 22 - 0xffff); k--) {
    if (dv.getUint32(k, true) === 0x06054b50 && k + 22 + dv.getUint16(k + 20, true) === b.length) { e = k; break; }
  }
  if (e < 0) no("no end record");
  let count = dv.getUint16(e + 10, true);
  let cdSize = dv.getUint32(e + 12, true);
  let cdAt = dv.getUint32(e + 16, true);
  if (count === 0xffff || cdSize === 0xffffffff || cdAt === 0xffffffff) {
    if (e < 20 || dv.getUint32(e - 20, true) !== 0x07064b50) no("no zip64 locator");
    const z = Number(dv.getBigUint64(e - 12, true));
    if (z + 56 > b.length || dv.getUint32(z, true) !== 0x06064b50) no("no zip64 end record");
    count = Number(dv.getBigUint64(z + 32, true));
    cdSize = Number(dv.getBigUint64(z + 40, true));
    cdAt = Number(dv.getBigUint64(z + 48, true));
  }
  if (cdAt + cdSize > b.length) no("directory outside the file");
  const files = new Map<string, { data: number; csize: number; size: number; method: number }>();
  const spans: Array<[number, number]> = [];
  let p = cdAt;
  for (let n = 0; n < count; n++) {
    if (p + 46 > cdAt + cdSize || dv.getUint32(p, true) !== 0x02014b50) no("directory entry missing");
    const method = dv.getUint16(p + 10, true);
    let csize = dv.getUint32(p + 20, true);
    let size = dv.getUint32(p + 24, true);
    const nl = dv.getUint16(p + 28, true), xl = dv.getUint16(p + 30, true), cl = dv.getUint16(p + 32, true);
    let off = dv.getUint32(p + 42, true);
    if (dv.getUint16(p + 8, true) & 1) no("encrypted");
    if (p + 46 + nl + xl + cl > cdAt + cdSize) no("entry past directory");
    const name = Buffer.from(b.subarray(p + 46, p + 46 + nl)).toString("utf8");
    for (let x = p + 46 + nl; x + 4 <= p + 46 + nl + xl; x += 4 + dv.getUint16(x + 2, true)) {
      if (dv.getUint16(x, true) !== 1) continue;
      let q = x + 4;
      const end = q + dv.getUint16(x + 2, true);
      const next = () => (q + 8 <= end ? Number(dv.getBigUint64((q += 8) - 8, true)) : no("short zip64 field"));
      if (size === 0xffffffff) size = next();
      if (csize === 0xffffffff) csize = next();
      if (off === 0xffffffff) off = next();
    }
    p += 46 + nl + xl + cl;
    if (!name || name.startsWith("/") || name.includes("\\") || name.split("/").includes("..") || /[\x00-\x1f]/.test(name) || /^[A-Za-z]:/.test(name)) no(`unsafe name ${name}`);
    if (files.has(name)) no(`duplicate ${name}`);
    if (off + 30 > b.length || dv.getUint32(off, true) !== 0x04034b50) no(`no local header for ${name}`);
    const lnl = dv.getUint16(off + 26, true);
    if (Buffer.from(b.subarray(off + 30, off + 30 + lnl)).toString("utf8") !== name) no(`local header of ${name} differs`);
    const data = off + 30 + lnl + dv.getUint16(off + 28, true);
    if (data + csize > cdAt) no(`${name} runs into the directory`);
    if (method === 0 && csize !== size) no(`stored ${name} sizes differ`);
    files.set(name, { data, csize, size, method });
    spans.push([off, data + csize]);
  }
  spans.sort((x, y) => x[0] - y[0]);
  for (let k = 1; k < spans.length; k++) if (spans[k][0] < spans[k - 1][1]) no("entries overlap");
  const pkls = [...files.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pkls.length !== 1) no("not exactly one data.pkl");
  const dir = pkls[0].slice(0, -8);
  const present = new Map<string, number>();
  for (const [name, f] of files) {
    if (!name.startsWith(`${dir}data/`)) continue;
    if (f.method !== 0) no(`tensor entry ${name} compressed`);
    present.set(name.slice(dir.length + 5), f.size);
  }
  const pkl = files.get(pkls[0])!;
  let bytes: Uint8Array;
  if (pkl.method === 0) bytes = b.subarray(pkl.data, pkl.data + pkl.size);
  else if (pkl.method === 8) {
    try { bytes = zlib.inflateRawSync(b.subarray(pkl.data, pkl.data + pkl.csize)); } catch { return no("data.pkl does not inflate"); }
    if (bytes.length !== pkl.size) no("data.pkl inflates to another size");
  } else return no("data.pkl method unknown");
  const facts = walkPickle(bytes, 0, bytes.length);
  if (facts.end !== bytes.length) no("bytes after STOP in data.pkl");
  checkStorages(facts, present);
}

function judgeLegacy(b: Uint8Array): void {
  const magic = walkPickle(b, 0, b.length);
  const hex = Buffer.from(b.subarray(0, magic.end)).toString("hex");
  if (hex !== "80028a0a6cfc9c46f9206aa850192e") no("no torch magic number");
  const proto = walkPickle(b, magic.end, b.length);
  if (!("n" in proto.top) || proto.top.n !== 1001) no("protocol is not 1001");
  const sys = walkPickle(b, proto.end, b.length);
  const sysText = Buffer.from(b.subarray(proto.end, sys.end)).toString("latin1");
  if (!/little_endian(q.)?\x88/s.test(sysText)) no("sys_info is not little-endian");
  const obj = walkPickle(b, sys.end, b.length);
  if (obj.pids.length === 0 && obj.tensors.length) no("tensors without storages");
  // The keys list, read by hand: only strings in it.
  const keysFacts = walkPickle(b, obj.end, b.length);
  const keyText = b.subarray(obj.end, keysFacts.end);
  const keys: string[] = [];
  for (let k = 0; k < keyText.length; k++) {
    if (keyText[k] === 0x58) { const n = new DataView(keyText.buffer, keyText.byteOffset + k + 1, 4).getUint32(0, true); keys.push(Buffer.from(keyText.subarray(k + 5, k + 5 + n)).toString("utf8")); k += 4 + n; }
  }
  const item = new Map(obj.pids.map((pid) => [pid.key, ITEM_SIZE[pid.type]]));
  const present = new Map<string, number>();
  let p = keysFacts.end;
  for (const key of keys) {
    const size = item.get(key) ?? no(`stored storage ${key} never named`);
    if (present.has(key) || p + 8 > b.length) no("storage repeated or cut");
    const count = Number(new DataView(b.buffer, b.byteOffset + p, 8).getBigUint64(0, true));
    p += 8 + count * size;
    if (p > b.length) no("storage past the end");
    present.set(key, count * size);
  }
  if (p !== b.length) no("bytes after the storages");
  checkStorages(obj, present);
}

export function judgePytorch(bytes: Uint8Array): PytorchVerdict {
  try {
    if (bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 3 && bytes[3] === 4) judgeZip(bytes);
    else if (bytes.length >= 2 && bytes[0] === 0x80) judgeLegacy(bytes);
    else no("neither a zip nor a pickle");
    return { valid: true };
  } catch (error) {
    if (error instanceof Invalid) return { valid: false, reason: error.message };
    if (error instanceof RangeError) return { valid: false, reason: `out of range: ${error.message}` };
    throw error;
  }
}
