import type { DType } from "../../structure/types";

/**
 * What the restricted unpickler builds: plain data only. Python objects the checkpoint names are
 * represented by these classes, never by anything that can run.
 */
export type PickleValue =
  | null | boolean | number | bigint | string | Uint8Array
  | PickleValue[] | PickleTuple | PickleDict | PickleSet
  | PickleGlobal | StorageRef | TensorRef | NumpyDtype;

export class PickleTuple {
  constructor(readonly items: PickleValue[]) {}
}

/** dict and collections.OrderedDict: insertion order kept (a state dict's order is its layer order). */
export class PickleDict {
  readonly entries = new Map<unknown, PickleValue>();
  /** State given by BUILD (an OrderedDict's `_metadata`): kept apart, never a key. */
  attributes: PickleValue = null;
  set(key: PickleValue, value: PickleValue): void {
    // Python compares keys by value; JS Maps by identity for objects. Keys in checkpoints are
    // strings and numbers (compared by value here); a tuple key stays distinct, which is harmless.
    this.entries.set(key, value);
  }
}

export class PickleSet {
  constructor(readonly items: PickleValue[], readonly frozen: boolean) {}
}

/** A global the reader knows, held as a name (a callable is applied by the reader, as data). */
export class PickleGlobal {
  constructor(readonly module: string, readonly name: string) {}
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

/** A storage a tensor views: an entry of the zip (or a legacy record) in elements of `dtype`. */
export class StorageRef {
  constructor(
    readonly key: string,
    readonly dtype: DType,
    readonly itemSize: number,
    /** Elements the persistent id declares (checked against the bytes present). */
    readonly declaredElements: number,
    /** The storage type's name as the checkpoint spells it (`torch.FloatStorage`). */
    readonly typeName: string,
  ) {}
}

export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    /** In elements of the storage's dtype. */
    readonly storageOffset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

/** numpy.dtype rebuilt as its type string (`f8`) and byte order (`<`, `>`, `|`, `=`). */
export class NumpyDtype {
  byteOrder = "=";
  constructor(readonly descr: string) {}
}
