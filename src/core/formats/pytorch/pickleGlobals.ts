import { badInput } from "../../errors";
import type { DType } from "../../structure/types";
import { NumpyDtype, PickleDict, PickleGlobal, PickleSet, PickleTuple, StorageRef, TensorRef, type PickleValue } from "./pickleValues";

/** torch's typed storage classes: the dtype and element size of the storages they tag. */
export const STORAGE_TYPES: ReadonlyMap<string, { dtype: DType; itemSize: number }> = new Map([
  ["FloatStorage", { dtype: "F32", itemSize: 4 }],
  ["DoubleStorage", { dtype: "F64", itemSize: 8 }],
  ["HalfStorage", { dtype: "F16", itemSize: 2 }],
  ["BFloat16Storage", { dtype: "BF16", itemSize: 2 }],
  ["LongStorage", { dtype: "I64", itemSize: 8 }],
  ["IntStorage", { dtype: "I32", itemSize: 4 }],
  ["ShortStorage", { dtype: "I16", itemSize: 2 }],
  ["CharStorage", { dtype: "I8", itemSize: 1 }],
  ["ByteStorage", { dtype: "U8", itemSize: 1 }],
  ["BoolStorage", { dtype: "BOOL", itemSize: 1 }],
  // Untyped storages count bytes; a tensor over one is sized as bytes.
  ["UntypedStorage", { dtype: "U8", itemSize: 1 }],
] as const);

/**
 * The globals a checkpoint may name. Everything here is rebuilt as data by `applyGlobal`; a name
 * outside this list is refused before anything else happens, which is what makes reading an
 * untrusted pickle safe (a pickle runs code only through the globals it is allowed to call).
 */
const CALLABLE = new Set([
  "collections.OrderedDict",
  "torch._utils._rebuild_tensor_v2",
  "torch._utils._rebuild_parameter",
  "torch._utils._rebuild_parameter_with_state",
  "torch._tensor._rebuild_from_type_v2",
  "torch.Size",
  "torch.device",
  "_codecs.encode",
  "numpy.core.multiarray.scalar",
  "numpy._core.multiarray.scalar",
  "numpy.dtype",
  "builtins.set",
  "builtins.frozenset",
]);

/** Named only as tags (the type a rebuilt tensor had, a storage's type): never called. */
const TAGS = new Set(["torch.Tensor", "torch.nn.parameter.Parameter"]);

/** Python 2 spelled builtins `__builtin__` (protocol-2 pickles still do). */
function normalModule(module: string): string {
  return module === "__builtin__" ? "builtins" : module;
}

export function resolveGlobal(module: string, name: string): PickleGlobal {
  const mod = normalModule(module);
  const full = `${mod}.${name}`;
  const storage = (mod === "torch" || mod === "torch.storage") && STORAGE_TYPES.has(name);
  if (CALLABLE.has(full) || TAGS.has(full) || storage) return new PickleGlobal(mod, name);
  throw badInput(
    `the checkpoint's pickle names the global ${full}, which is refused: a checkpoint is read as data, and only tensors, storages, containers, numbers and numpy scalars are rebuilt (pickle is never executed)`,
    undefined,
    { global: full },
  );
}

function malformed(what: string): never {
  throw badInput(`malformed checkpoint pickle: ${what}`);
}

const asTuple = (v: PickleValue, what: string): PickleValue[] => (v instanceof PickleTuple ? v.items : Array.isArray(v) ? v : malformed(`${what} is not a tuple`));

function asCount(v: PickleValue, what: string): number {
  const n = typeof v === "bigint" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) malformed(`${what} is not a non-negative integer`);
  return n as number;
}

/** Calls an allowed global with `args`, as the data it stands for. */
export function applyGlobal(callee: PickleValue, args: PickleValue[]): PickleValue {
  if (!(callee instanceof PickleGlobal)) malformed("a call of something that is not a global");
  const g = callee as PickleGlobal;
  switch (g.qualifiedName) {
    case "collections.OrderedDict": {
      const d = new PickleDict();
      if (args.length > 0) for (const pair of asTuple(args[0], "OrderedDict's items")) {
        const kv = asTuple(pair, "an OrderedDict item");
        if (kv.length !== 2) malformed("an OrderedDict item is not a pair");
        d.set(kv[0], kv[1]);
      }
      return d;
    }
    case "torch._utils._rebuild_tensor_v2": {
      const [storage, offset, size, stride] = args;
      if (!(storage instanceof StorageRef)) malformed("_rebuild_tensor_v2 over something that is not a storage");
      const shape = asTuple(size, "a tensor size").map((d) => asCount(d, "a tensor dimension"));
      const strides = asTuple(stride, "a tensor stride").map((d) => asCount(d, "a tensor stride"));
      if (shape.length !== strides.length) malformed("a tensor's size and stride differ in length");
      const ref = storage as StorageRef;
      const start = asCount(offset, "a storage offset");
      // The furthest element the view reaches must lie in the storage's declared elements (which
      // the container reader checks against the bytes present).
      const last = shape.some((d) => d === 0) ? start - 1 : shape.reduce((end, d, k) => end + (d - 1) * strides[k], start);
      if (last >= ref.declaredElements) {
        throw badInput(`a tensor [${shape.join(", ")}] at storage offset ${start} reads past its storage ${JSON.stringify(ref.key)} of ${ref.declaredElements} elements`);
      }
      return new TensorRef(ref, start, shape, strides);
    }
    case "torch._utils._rebuild_parameter":
    case "torch._utils._rebuild_parameter_with_state":
      if (!(args[0] instanceof TensorRef)) malformed(`${g.name} of something that is not a tensor`);
      return args[0];
    case "torch._tensor._rebuild_from_type_v2": {
      // (func, new_type, args, state): the tensor func rebuilds; the subclass tag is dropped.
      const [func, , inner] = args;
      if (!(func instanceof PickleGlobal) || func.qualifiedName === g.qualifiedName) malformed("_rebuild_from_type_v2 without a rebuild function");
      return applyGlobal(func, asTuple(inner, "_rebuild_from_type_v2's arguments"));
    }
    case "torch.Size":
      return new PickleTuple(args.length ? asTuple(args[0], "torch.Size's argument") : []);
    case "torch.device":
      return args.map(String).join(":");
    case "_codecs.encode":
      return encode(args);
    case "numpy.dtype":
      if (typeof args[0] !== "string") malformed("numpy.dtype without a type string");
      return new NumpyDtype(args[0] as string);
    case "numpy.core.multiarray.scalar":
    case "numpy._core.multiarray.scalar":
      return numpyScalar(args);
    case "builtins.set":
    case "builtins.frozenset":
      return new PickleSet(args.length ? [...asTuple(args[0], `${g.name}'s argument`)] : [], g.name === "frozenset");
    default:
      throw badInput(`the checkpoint's pickle calls ${g.qualifiedName}, which is a type tag, not something a checkpoint builds`, undefined, { global: g.qualifiedName });
  }
}

/** Protocol-2 pickles carry bytes as `_codecs.encode(text, "latin1")`. */
function encode(args: PickleValue[]): Uint8Array {
  const [text, encoding] = args;
  if (typeof text !== "string") malformed("_codecs.encode of something that is not text");
  const enc = typeof encoding === "string" ? encoding.toLowerCase().replace("-", "") : "utf8";
  if (enc === "utf8") return new Uint8Array(Buffer.from(text as string, "utf8"));
  if (enc !== "latin1") malformed(`_codecs.encode with encoding ${JSON.stringify(encoding)}`);
  const s = text as string;
  const out = new Uint8Array(s.length);
  for (let k = 0; k < s.length; k++) {
    const c = s.charCodeAt(k);
    if (c > 255) malformed("_codecs.encode latin1 of a character above U+00FF");
    out[k] = c;
  }
  return out;
}

/** numpy.core.multiarray.scalar(dtype, bytes): a number (mmcv's `meta` keeps numpy scores). */
function numpyScalar(args: PickleValue[]): PickleValue {
  const [dtype, data] = args;
  if (!(dtype instanceof NumpyDtype) || !(data instanceof Uint8Array)) malformed("numpy scalar without a dtype and bytes");
  const d = dtype as NumpyDtype;
  const bytes = data as Uint8Array;
  const kind = d.descr.replace(/^[<>=|]/, "");
  const little = d.byteOrder !== ">" && !d.descr.startsWith(">");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const readers: Record<string, [number, (o: number) => number | bigint]> = {
    f8: [8, (o) => view.getFloat64(o, little)], f4: [4, (o) => view.getFloat32(o, little)],
    f2: [2, (o) => halfToNumber(view.getUint16(o, little))],
    i8: [8, (o) => view.getBigInt64(o, little)], i4: [4, (o) => view.getInt32(o, little)],
    i2: [2, (o) => view.getInt16(o, little)], i1: [1, (o) => view.getInt8(o)],
    u8: [8, (o) => view.getBigUint64(o, little)], u4: [4, (o) => view.getUint32(o, little)],
    u2: [2, (o) => view.getUint16(o, little)], u1: [1, (o) => view.getUint8(o)],
    b1: [1, (o) => view.getUint8(o)],
  };
  const reader = readers[kind];
  if (!reader) malformed(`numpy scalar of dtype ${JSON.stringify(d.descr)} (numbers only)`);
  if (bytes.byteLength !== reader[0]) malformed(`numpy ${kind} scalar of ${bytes.byteLength} bytes`);
  const v = reader[1](0);
  if (kind === "b1") return v !== 0;
  if (typeof v === "bigint") return Number.isSafeInteger(Number(v)) ? Number(v) : v;
  return v;
}

function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** BUILD: the state of an object built from an allowed global. */
export function applyBuild(target: PickleValue, state: PickleValue): void {
  if (target instanceof PickleDict) {
    target.attributes = state;
    return;
  }
  if (target instanceof NumpyDtype) {
    // numpy.dtype.__setstate__: (version, byteorder, …).
    const items = state instanceof PickleTuple ? state.items : [];
    if (typeof items[1] === "string") target.byteOrder = items[1];
    return;
  }
  // A tensor's state (its __dict__) carries nothing a state dict's values need.
  if (target instanceof TensorRef) return;
  malformed("BUILD on a value that takes no state");
}
