import { badInput } from "../../errors";
import { ProtoReader, type ProtoField } from "../protobuf/protoReader";
import { onnxDataType, type OnnxTypedField, typedValueCount, rawByteLength } from "./onnxDataType";
import type { ByteRange, LenSpan, OnnxTensorData, OnnxTensorRecord, TypedRange } from "./onnxModelRecord";
import { tensorElementCount } from "./tensorElementCount";

/** TensorProto field numbers (onnx/onnx.proto3). */
const DIMS = 1;
const DATA_TYPE = 2;
const SEGMENT = 3;
const NAME = 8;
const RAW_DATA = 9;
const EXTERNAL_DATA = 13;
const DATA_LOCATION = 14;
const TYPED_FIELDS: ReadonlyMap<number, Exclude<OnnxTypedField, "string_data">> = new Map([
  [4, "float_data"],
  [5, "int32_data"],
  [7, "int64_data"],
  [10, "double_data"],
  [11, "uint64_data"],
]);
const STRING_DATA = 6;
const ENCODING = { float_data: "fixed32", double_data: "fixed64", int32_data: "varint", int64_data: "varint", uint64_data: "varint" } as const;
/** TensorProto.DataLocation.EXTERNAL */
const EXTERNAL = 1;

export interface TensorProtoContext {
  /** The name the tensor is known by when the proto has none (a Constant's output). */
  name?: string;
  origin: OnnxTensorRecord["origin"];
  nodeIndex?: number;
  ancestry: LenSpan[];
}

interface TypedAccumulator {
  field: Exclude<OnnxTypedField, "string_data">;
  ranges: TypedRange[];
  count: number;
}

/**
 * Decodes one TensorProto's header: name, dims, data type and where its data is. Data bytes are
 * located, never copied; packed varint payloads are scanned (in windows) only to count values.
 */
export function readTensorProto(parent: ProtoReader, field: ProtoField, context: TensorProtoContext): OnnxTensorRecord {
  const label = context.name !== undefined ? `TensorProto "${context.name}"` : "TensorProto";
  const r = parent.sub(field, label);
  const dims: number[] = [];
  let dataType: number | undefined;
  let protoName: string | undefined;
  let raw: { offset: number; length: number } | undefined;
  let typed: TypedAccumulator | undefined;
  let stringCount = 0;
  const external: Record<string, string> = {};
  const externalFields: ByteRange[] = [];
  let dataLocation = 0;

  for (let f = r.next(); f; f = r.next()) {
    switch (f.fieldNumber) {
      case DIMS:
        readInt64s(r, f, label, "dims").forEach((d) => dims.push(d));
        break;
      case DATA_TYPE:
        expectWire(f, 0, label, "data_type");
        dataType = f.value;
        break;
      case NAME:
        protoName = r.string(f);
        break;
      case SEGMENT:
        throw badInput(`${label} is a segmented tensor (TensorProto.segment), which is not supported`);
      case RAW_DATA:
        expectWire(f, 2, label, "raw_data");
        if (raw) throw badInput(`${label} has raw_data twice`);
        raw = { offset: f.offset, length: f.length };
        break;
      case STRING_DATA:
        expectWire(f, 2, label, "string_data");
        stringCount++;
        break;
      case EXTERNAL_DATA: {
        expectWire(f, 2, label, "external_data");
        const [key, value] = readStringEntry(r, f, label);
        external[key] = value;
        externalFields.push({ start: f.tagOffset, end: f.offset + f.length });
        break;
      }
      case DATA_LOCATION:
        expectWire(f, 0, label, "data_location");
        dataLocation = f.value;
        externalFields.push({ start: f.tagOffset, end: f.offset + f.length });
        break;
      default: {
        const typedField = TYPED_FIELDS.get(f.fieldNumber);
        if (typedField) typed = addTypedRange(r, f, typedField, typed, label);
      }
    }
  }

  const name = context.name ?? protoName;
  const title = name !== undefined && name !== "" ? `tensor "${name}"` : "an unnamed tensor";
  if (name === undefined || name === "") throw badInput(`${context.origin === "initializer" ? "an initializer" : "a Constant node"} has no name`);
  if (dataType === undefined) throw badInput(`${title} has no data_type`);
  const type = onnxDataType(dataType);
  if (!type) throw badInput(`${title} has unknown data_type ${dataType}`);
  const elements = tensorElementCount(dims, title);

  let data: OnnxTensorData;
  const sources = [raw ? "raw_data" : undefined, typed ? typed.field : undefined, stringCount ? "string_data" : undefined, dataLocation === EXTERNAL ? "external data" : undefined].filter(Boolean);
  if (sources.length > 1) throw badInput(`${title} has its data in more than one place (${sources.join(", ")})`);
  if (dataLocation !== 0 && dataLocation !== EXTERNAL) throw badInput(`${title} has unknown data_location ${dataLocation}`);

  if (dataLocation === EXTERNAL) {
    const location = external.location;
    if (!location) throw badInput(`${title} is stored externally but external_data has no "location"`);
    const offset = external.offset !== undefined ? parseDecimal(external.offset, `${title} external_data offset`) : 0;
    const length = external.length !== undefined ? parseDecimal(external.length, `${title} external_data length`) : undefined;
    const expected = rawByteLength(type, elements);
    if (type.bits === 0) throw badInput(`${title} of type ${type.onnxName} cannot be stored externally`);
    if (length !== undefined && length !== expected) {
      throw badInput(`${title} has ${length} bytes of external data, but its shape [${dims.join(", ")}] of ${type.onnxName} needs ${expected}`);
    }
    data = { kind: "external", location, offset, length, fields: externalFields };
  } else if (raw) {
    if (type.bits === 0) throw badInput(`${title} of type ${type.onnxName} cannot use raw_data`);
    const expected = rawByteLength(type, elements);
    if (raw.length !== expected) {
      throw badInput(`${title} has ${raw.length} bytes of raw_data, but its shape [${dims.join(", ")}] of ${type.onnxName} needs ${expected}`);
    }
    data = { kind: "raw", offset: raw.offset, length: raw.length };
  } else if (typed) {
    if (typed.field !== type.typedField) throw badInput(`${title} of type ${type.onnxName} stores its values in ${typed.field}; ONNX keeps ${type.onnxName} in ${type.typedField}`);
    const expected = typedValueCount(type, elements);
    if (typed.count !== expected) {
      throw badInput(`${title} has ${typed.count} values in ${typed.field}, but its shape [${dims.join(", ")}] needs ${expected}`);
    }
    data = { kind: "typed", field: typed.field, encoding: ENCODING[typed.field], ranges: typed.ranges, count: typed.count };
  } else if (stringCount) {
    if (type.typedField !== "string_data") throw badInput(`${title} of type ${type.onnxName} has string_data`);
    if (stringCount !== elements) throw badInput(`${title} has ${stringCount} strings, but its shape [${dims.join(", ")}] needs ${elements}`);
    data = { kind: "none" };
  } else {
    if (elements !== 0) throw badInput(`${title} has no data, but its shape [${dims.join(", ")}] has ${elements} elements`);
    data = type.bits === 0 ? { kind: "none" } : { kind: "raw", offset: field.offset, length: 0 };
  }
  return { name, dims, type, elements, origin: context.origin, nodeIndex: context.nodeIndex, ancestry: context.ancestry, data };
}

function addTypedRange(r: ProtoReader, f: ProtoField, field: TypedAccumulator["field"], acc: TypedAccumulator | undefined, label: string): TypedAccumulator {
  if (acc && acc.field !== field) throw badInput(`${label} has values in both ${acc.field} and ${field}`);
  const out = acc ?? { field, ranges: [], count: 0 };
  const encoding = ENCODING[field];
  if (f.wireType === 2) {
    let count: number;
    if (encoding === "varint") count = countPackedVarints(r, f, label, field);
    else {
      const width = encoding === "fixed32" ? 4 : 8;
      if (f.length % width !== 0) throw badInput(`${label}: packed ${field} of ${f.length} bytes is not a whole number of ${width}-byte values`, undefined, { offset: f.offset });
      count = f.length / width;
    }
    out.ranges.push({ offset: f.offset, length: f.length, packed: true, prefixOffset: f.prefixOffset, count });
    out.count += count;
    return out;
  }
  const wire = encoding === "fixed32" ? 5 : encoding === "fixed64" ? 1 : 0;
  expectWire(f, wire, label, field);
  const last = out.ranges[out.ranges.length - 1];
  if (last && !last.packed && last.offset + last.length === f.tagOffset) {
    last.length = f.end - last.offset;
    last.count++;
  } else out.ranges.push({ offset: f.tagOffset, length: f.end - f.tagOffset, packed: false, prefixOffset: f.tagOffset, count: 1 });
  out.count += 1;
  return out;
}

/** Counts varints in a packed payload: one per byte without the continuation bit. */
function countPackedVarints(r: ProtoReader, f: ProtoField, label: string, field: string): number {
  const WINDOW = 1 << 20;
  let count = 0;
  let last = 0;
  let run = 0;
  for (let at = f.offset; at < f.end; at += WINDOW) {
    const chunk = r.source.read(at, Math.min(WINDOW, f.end - at));
    for (let i = 0; i < chunk.length; i++) {
      last = chunk[i];
      if (last < 0x80) {
        count++;
        run = 0;
      } else if (++run >= 10) {
        throw badInput(`${label}: packed ${field} holds a varint longer than 10 bytes`, undefined, { offset: at + i });
      }
    }
  }
  if (f.length > 0 && last >= 0x80) throw badInput(`${label}: packed ${field} ends inside a varint`, undefined, { offset: f.end });
  return count;
}

/** Repeated int64: packed (one LEN field) or unpacked (one varint per field). */
export function readInt64s(r: ProtoReader, f: ProtoField, label: string, what: string): number[] {
  if (f.wireType === 0) return [f.value];
  expectWire(f, 2, label, what);
  const inner = r.sub(f, `${label} ${what}`);
  const out: number[] = [];
  while (!inner.atEnd) out.push(inner.readVarint());
  return out;
}

/** StringStringEntryProto: key 1, value 2. */
export function readStringEntry(r: ProtoReader, f: ProtoField, label: string): [string, string] {
  const inner = r.sub(f, `${label} key/value entry`);
  let key = "";
  let value = "";
  for (let g = inner.next(); g; g = inner.next()) {
    if (g.fieldNumber === 1) key = inner.string(g);
    else if (g.fieldNumber === 2) value = inner.string(g);
  }
  return [key, value];
}

export function expectWire(f: ProtoField, wire: number, label: string, what: string): void {
  if (f.wireType !== wire) {
    throw badInput(`${label} is corrupt at byte ${f.tagOffset}: ${what} has wire type ${f.wireType}, expected ${wire}`, undefined, { offset: f.tagOffset });
  }
}

function parseDecimal(text: string, what: string): number {
  if (!/^\d{1,16}$/.test(text)) throw badInput(`${what} "${text}" is not a non-negative integer`);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw badInput(`${what} "${text}" is too large`);
  return n;
}
