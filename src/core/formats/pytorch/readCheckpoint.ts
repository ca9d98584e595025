import * as zlib from "node:zlib";
import { badInput } from "../../errors";
import { bufferSource, type ByteSource } from "../byteSource";
import { STORAGE_TYPES } from "./pickleGlobals";
import { PickleDict, PickleGlobal, PickleTuple, StorageRef, type PickleValue } from "./pickleValues";
import { readZip, type ZipEntry } from "./readZip";
import { unpickle, type UnpickleOptions } from "./unpickle";

/** Where a storage's bytes lie in the file. */
export interface StorageSpan {
  offset: number;
  bytes: number;
}

export interface Checkpoint {
  container: "zip" | "legacy";
  /** The object torch.save was given. */
  root: PickleValue;
  storages: Map<string, StorageSpan>;
}

export interface ReadCheckpointOptions {
  /** Largest size a zip entry may declare or inflate to (the upload limit). */
  maxEntryBytes?: number;
  limits?: UnpickleOptions["limits"];
}

/** A pickle read into memory to be interpreted is bounded too (it holds names, not tensor data). */
const MAX_PICKLE_BYTES = 1 << 30;
/** torch.serialization's legacy magic number. */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

/** A pickle stream starts with PROTO 2–5 (torch writes protocol 2). */
export function isLegacyCheckpoint(source: ByteSource): boolean {
  if (source.size < 2) return false;
  const [a, b] = source.read(0, 2);
  return a === 0x80 && b >= 2 && b <= 5;
}

/** Parses a persistent id `('storage', torch.XStorage, key, location, numel[, view])` into a storage. */
function storageFromPid(pid: PickleValue, legacy: boolean): StorageRef {
  const items = pid instanceof PickleTuple ? pid.items : null;
  if (!items || items[0] !== "storage" || items.length < 5) throw badInput("malformed checkpoint pickle: a persistent id that is not a ('storage', type, key, location, size) tuple");
  const [, type, key, , numel] = items;
  if (!(type instanceof PickleGlobal) || !STORAGE_TYPES.has(type.name)) throw badInput("malformed checkpoint pickle: a persistent id without a storage type");
  if (typeof key !== "string" || key.length === 0) throw badInput("malformed checkpoint pickle: a persistent id whose storage key is not a string");
  if (typeof numel !== "number" || !Number.isSafeInteger(numel) || numel < 0) throw badInput(`malformed checkpoint pickle: storage ${JSON.stringify(key)} has no element count`);
  if (legacy && items.length > 5 && items[5] !== null) throw badInput(`storage ${JSON.stringify(key)} is a storage view (torch < 1.0), which this reader does not read`);
  const { dtype, itemSize } = STORAGE_TYPES.get(type.name)!;
  return new StorageRef(key, dtype, itemSize, numel, type.qualifiedName);
}

/** The same key always stands for the same storage (and the same type). */
function storageRegistry(legacy: boolean, check: (ref: StorageRef) => void) {
  const refs = new Map<string, StorageRef>();
  const persistentLoad = (pid: PickleValue): PickleValue => {
    const ref = storageFromPid(pid, legacy);
    const known = refs.get(ref.key);
    if (known) {
      if (known.typeName !== ref.typeName) throw badInput(`storage ${JSON.stringify(ref.key)} is named as ${known.typeName} and as ${ref.typeName}`);
      return known;
    }
    check(ref);
    refs.set(ref.key, ref);
    return ref;
  };
  return { refs, persistentLoad };
}

/**
 * Reads a PyTorch checkpoint's object and the location of every storage, without reading tensor
 * data: the zip format (torch ≥ 1.6: `<dir>/data.pkl`, `<dir>/data/<key>` stored uncompressed,
 * `<dir>/version`) or the legacy format (magic number, protocol, sys_info and object pickles,
 * the storage keys, then each storage as an 8-byte element count and its bytes).
 */
export function readCheckpoint(source: ByteSource, options: ReadCheckpointOptions = {}): Checkpoint {
  const maxEntryBytes = options.maxEntryBytes ?? Number.MAX_SAFE_INTEGER;
  return isLegacyCheckpoint(source) ? readLegacy(source, options) : readZipCheckpoint(source, maxEntryBytes, options);
}

function readZipCheckpoint(source: ByteSource, maxEntryBytes: number, options: ReadCheckpointOptions): Checkpoint {
  const entries = readZip(source, maxEntryBytes);
  const pickles = [...entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pickles.length !== 1) {
    throw badInput(pickles.length === 0 ? "the zip file is not a PyTorch checkpoint (no <folder>/data.pkl entry)" : `the zip file holds ${pickles.length} data.pkl entries (${pickles.join(", ")}); a checkpoint has one`);
  }
  const dir = pickles[0].slice(0, -"data.pkl".length);
  const byteorder = entries.get(`${dir}byteorder`);
  if (byteorder && entryText(source, byteorder, maxEntryBytes).trim() === "big") throw badInput("the checkpoint was written big-endian; only little-endian checkpoints are read");
  for (const entry of entries.values()) {
    if (entry.name.startsWith(`${dir}data/`) && entry.method !== 0) {
      throw badInput(`tensor entry ${entry.name} is compressed (method ${entry.method}); tensors are read in place, so their entries must be stored uncompressed (as torch.save writes them)`);
    }
  }
  const storages = new Map<string, StorageSpan>();
  const { persistentLoad } = storageRegistry(false, (ref) => {
    const name = `${dir}data/${ref.key}`;
    const entry = entries.get(name);
    if (!entry) throw badInput(`the checkpoint's pickle names storage ${JSON.stringify(ref.key)}, but the zip holds no ${name}`);
    if (entry.size < ref.declaredElements * ref.itemSize) {
      throw badInput(`storage ${name} holds ${entry.size} bytes, fewer than the ${ref.declaredElements} × ${ref.itemSize} its persistent id declares`);
    }
    storages.set(ref.key, { offset: entry.dataOffset, bytes: entry.size });
  });
  const pkl = entries.get(pickles[0])!;
  const pickleSource = pkl.method === 0 ? source : bufferSource(inflate(source, pkl, Math.min(maxEntryBytes, MAX_PICKLE_BYTES)));
  const start = pkl.method === 0 ? pkl.dataOffset : 0;
  if (pkl.size > MAX_PICKLE_BYTES) throw badInput(`${pkl.name} is ${pkl.size} bytes (at most ${MAX_PICKLE_BYTES})`);
  const { value, end } = unpickle(pickleSource, start, start + pkl.size, { persistentLoad, limits: options.limits });
  if (end !== start + pkl.size) throw badInput(`${pkl.name} has ${start + pkl.size - end} bytes after its pickle's STOP`);
  return { container: "zip", root: value, storages };
}

function entryText(source: ByteSource, entry: ZipEntry, maxEntryBytes: number): string {
  if (entry.size > 1024) return "";
  const bytes = entry.method === 0 ? source.read(entry.dataOffset, entry.size) : inflate(source, entry, maxEntryBytes);
  return Buffer.from(bytes).toString("latin1");
}

/** A deflated entry's bytes, never more than `limit` (its actual size, not only the declared one). */
function inflate(source: ByteSource, entry: ZipEntry, limit: number): Uint8Array {
  if (entry.method !== 8) throw badInput(`zip entry ${entry.name} uses compression method ${entry.method} (stored or deflated only)`);
  let out: Buffer;
  try {
    out = zlib.inflateRawSync(source.read(entry.dataOffset, entry.compressedSize), { maxOutputLength: Math.max(1, Math.min(limit, entry.size + 1)) });
  } catch (error) {
    const tooLarge = (error as { code?: string }).code === "ERR_BUFFER_TOO_LARGE" || /maxOutputLength|too large/i.test(String(error));
    throw badInput(tooLarge ? `zip entry ${entry.name} inflates beyond its declared ${entry.size} bytes (a zip bomb?)` : `zip entry ${entry.name} does not inflate: ${(error as Error).message}`);
  }
  if (out.byteLength !== entry.size) throw badInput(`zip entry ${entry.name} inflates to ${out.byteLength} bytes, not the ${entry.size} it declares`);
  return out;
}

function readLegacy(source: ByteSource, options: ReadCheckpointOptions): Checkpoint {
  const noStorage = (): PickleValue => {
    throw badInput("malformed legacy checkpoint: a storage in its header pickles");
  };
  const header = (start: number) => unpickle(source, start, source.size, { persistentLoad: noStorage, limits: options.limits });
  const magic = header(0);
  if (magic.value !== LEGACY_MAGIC) throw badInput("the file is a pickle but not a PyTorch checkpoint (no torch magic number); a bare pickle is not read");
  const protocol = header(magic.end);
  if (protocol.value !== LEGACY_PROTOCOL) throw badInput(`legacy checkpoint protocol ${String(protocol.value)} (only ${LEGACY_PROTOCOL} is read)`);
  const sysInfo = header(protocol.end);
  if (!(sysInfo.value instanceof PickleDict) || sysInfo.value.entries.get("little_endian") !== true) {
    throw badInput("the legacy checkpoint was not written little-endian (sys_info.little_endian is not True)");
  }
  const { refs, persistentLoad } = storageRegistry(true, () => undefined);
  const object = unpickle(source, sysInfo.end, source.size, { persistentLoad, limits: options.limits });
  const keys = header(object.end);
  if (!Array.isArray(keys.value) || keys.value.some((k) => typeof k !== "string")) throw badInput("malformed legacy checkpoint: the storage keys are not a list of strings");
  const storages = new Map<string, StorageSpan>();
  let at = keys.end;
  for (const key of keys.value as string[]) {
    const ref = refs.get(key);
    if (!ref) throw badInput(`the legacy checkpoint stores storage ${JSON.stringify(key)}, which its pickle never names`);
    if (storages.has(key)) throw badInput(`the legacy checkpoint stores storage ${JSON.stringify(key)} twice`);
    if (at + 8 > source.size) throw badInput(`the legacy checkpoint is truncated: storage ${JSON.stringify(key)}'s size is missing`);
    const count = new DataView(Uint8Array.from(source.read(at, 8)).buffer).getBigUint64(0, true);
    const bytes = count * BigInt(ref.itemSize);
    if (at + 8 + Number(bytes) > source.size || bytes > BigInt(source.size)) throw badInput(`the legacy checkpoint is truncated: storage ${JSON.stringify(key)} declares ${count} elements past the end of the file`);
    if (Number(count) < ref.declaredElements) throw badInput(`storage ${JSON.stringify(key)} holds ${count} elements, fewer than the ${ref.declaredElements} its persistent id declares`);
    storages.set(key, { offset: at + 8, bytes: Number(bytes) });
    at += 8 + Number(bytes);
  }
  for (const key of refs.keys()) if (!storages.has(key)) throw badInput(`the legacy checkpoint's pickle names storage ${JSON.stringify(key)}, which the file does not hold`);
  if (at !== source.size) throw badInput(`the legacy checkpoint has ${source.size - at} bytes after its last storage`);
  return { container: "legacy", root: object.value, storages };
}
