import { badInput } from "../../errors";
import type { ByteSource } from "../byteSource";
import { applyBuild, applyGlobal, resolveGlobal } from "./pickleGlobals";
import { PickleDict, PickleSet, PickleTuple, type PickleValue } from "./pickleValues";

/** Bounds on what one pickle may build; a checkpoint's own pickle is far below each. */
export interface PickleLimits {
  depth: number;
  memo: number;
  stringBytes: number;
  objects: number;
}

export const PICKLE_LIMITS: Readonly<PickleLimits> = {
  /** Open MARKs at once (nesting while building), and nesting of the values walked afterwards. */
  depth: 1000,
  memo: 1_000_000,
  /** One string or bytes value. */
  stringBytes: 64 << 20,
  /** Values pushed in total. */
  objects: 10_000_000,
};

export interface UnpickleOptions {
  /** BINPERSID: the object a persistent id stands for (a storage), or a refusal naming it. */
  persistentLoad(pid: PickleValue): PickleValue;
  limits?: Partial<PickleLimits>;
}

export interface Unpickled {
  value: PickleValue;
  /** The offset just past STOP (the legacy format's next pickle starts there). */
  end: number;
}

/**
 * A restricted unpickler for protocols 2–5 (and the protocol-0/1 opcodes they still use): it
 * interprets the opcode stream into plain data and never runs anything. Globals are looked up
 * in an allow-list (pickleGlobals.ts) as they are named, so a refused one stops the read before
 * any value depends on it. Reads from `start` to STOP; `end` bounds the stream.
 */
export function unpickle(source: ByteSource, start: number, end: number, options: UnpickleOptions): Unpickled {
  const limits = { ...PICKLE_LIMITS, ...options.limits };
  let pos = start;
  let opAt = start;
  let pushed = 0;
  // MARK starts a new stack; the enclosing one waits in `marks` (the "metastack" of CPython).
  let stack: PickleValue[] = [];
  const marks: PickleValue[][] = [];
  const memo = new Map<number, PickleValue>();

  const error = (what: string) => badInput(`malformed checkpoint pickle at byte ${opAt}: ${what}`);
  const fail = (what: string): never => {
    throw error(what);
  };
  const take = (n: number): Uint8Array => {
    if (n < 0 || pos + n > end) fail(`it ends inside an opcode's ${n}-byte argument (truncated)`);
    const bytes = source.read(pos, n);
    pos += n;
    return bytes;
  };
  const u8 = () => take(1)[0];
  const le = (n: number): number => {
    const b = take(n);
    let v = 0;
    for (let k = n - 1; k >= 0; k--) v = v * 256 + b[k];
    return v;
  };
  const i32 = () => {
    const b = take(4);
    return new DataView(b.buffer, b.byteOffset, 4).getInt32(0, true);
  };
  const u64 = () => {
    const b = take(8);
    const v = new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
  };
  const sized = (n: number): Uint8Array => {
    if (n > limits.stringBytes) fail(`a ${n}-byte string is over the ${limits.stringBytes}-byte limit`);
    return Uint8Array.from(take(n));
  };
  const line = (): string => {
    const chars: number[] = [];
    for (;;) {
      const c = u8();
      if (c === 0x0a) return Buffer.from(chars).toString("latin1");
      if (chars.length >= 4096) fail("a text argument longer than 4096 bytes");
      chars.push(c);
    }
  };
  const utf8 = (b: Uint8Array) => Buffer.from(b).toString("utf8");
  const latin1 = (b: Uint8Array) => Buffer.from(b).toString("latin1");

  const push = (v: PickleValue) => {
    if (++pushed > limits.objects) fail(`more than ${limits.objects} values`);
    stack.push(v);
  };
  const pop = (): PickleValue => {
    if (stack.length === 0) fail("the stack is empty");
    return stack.pop()!;
  };
  const top = (): PickleValue => {
    if (stack.length === 0) fail("the stack is empty");
    return stack[stack.length - 1];
  };
  const popMark = (): PickleValue[] => {
    const items = stack;
    if (marks.length === 0) fail("no MARK to pop to");
    stack = marks.pop()!;
    return items;
  };
  const put = (index: number) => {
    if (memo.size >= limits.memo && !memo.has(index)) fail(`more than ${limits.memo} memo entries`);
    memo.set(index, top());
  };
  const get = (index: number) => {
    if (!memo.has(index)) fail(`memo entry ${index} was never stored`);
    push(memo.get(index)!);
  };
  const bigint = (b: Uint8Array): PickleValue => {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let k = b.length - 1; k >= 0; k--) v = (v << 8n) | BigInt(b[k]);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return Number.isSafeInteger(Number(v)) && BigInt(Number(v)) === v ? Number(v) : v;
  };
  const number = (text: string): PickleValue => {
    if (text === "00") return false;
    if (text === "01") return true;
    const t = text.endsWith("L") ? text.slice(0, -1) : text;
    if (!/^[+-]?\d+$/.test(t)) fail(`${JSON.stringify(text)} is not an integer`);
    const v = BigInt(t);
    return Number.isSafeInteger(Number(v)) ? Number(v) : v;
  };
  const setItems = (target: PickleValue, items: PickleValue[]) => {
    if (!(target instanceof PickleDict)) fail("SETITEM(S) on something that is not a dict");
    if (items.length % 2) fail("SETITEMS with an odd number of items");
    for (let k = 0; k < items.length; k += 2) (target as PickleDict).set(items[k], items[k + 1]);
  };
  const appendItems = (target: PickleValue, items: PickleValue[]) => {
    if (Array.isArray(target)) target.push(...items);
    else if (target instanceof PickleSet && !target.frozen) target.items.push(...items);
    else fail("APPEND(S)/ADDITEMS on something that is not a list or set");
  };
  const call = (callee: PickleValue, args: PickleValue) => {
    const list = args instanceof PickleTuple ? args.items : fail("call arguments are not a tuple");
    push(applyGlobal(callee, list as PickleValue[]));
  };

  for (;;) {
    opAt = pos;
    const op = u8();
    switch (op) {
      case 0x80: { // PROTO
        const v = u8();
        if (v > 5) fail(`protocol ${v} (this reader knows 2–5)`);
        break;
      }
      case 0x95: take(8); break; // FRAME: advisory
      case 0x2e: { // STOP
        if (marks.length > 0) fail("STOP with a MARK still open");
        if (stack.length !== 1) fail(`STOP with ${stack.length} values on the stack (expected 1)`);
        return { value: pop(), end: pos };
      }
      case 0x28: // MARK
        if (marks.length >= limits.depth) fail(`nesting deeper than ${limits.depth}`);
        marks.push(stack);
        stack = [];
        break;
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: push(top()); break; // DUP
      case 0x4e: push(null); break; // NONE
      case 0x88: push(true); break; // NEWTRUE
      case 0x89: push(false); break; // NEWFALSE
      case 0x49: push(number(line())); break; // INT
      case 0x4c: push(number(line())); break; // LONG
      case 0x4a: push(i32()); break; // BININT
      case 0x4b: push(u8()); break; // BININT1
      case 0x4d: push(le(2)); break; // BININT2
      case 0x8a: push(bigint(sized(u8()))); break; // LONG1
      case 0x8b: { // LONG4
        const n = i32();
        if (n < 0) fail("LONG4 with a negative length");
        push(bigint(sized(n)));
        break;
      }
      case 0x46: { // FLOAT
        const t = line();
        const v = Number(t);
        if (t.trim() === "" || (Number.isNaN(v) && !/^[+-]?nan$/i.test(t))) fail(`${JSON.stringify(t)} is not a float`);
        push(v);
        break;
      }
      case 0x47: { // BINFLOAT (big-endian)
        const b = take(8);
        push(new DataView(b.buffer, b.byteOffset, 8).getFloat64(0, false));
        break;
      }
      case 0x58: push(utf8(sized(le(4)))); break; // BINUNICODE
      case 0x8c: push(utf8(sized(u8()))); break; // SHORT_BINUNICODE
      case 0x8d: push(utf8(sized(u64()))); break; // BINUNICODE8
      case 0x56: push(line()); break; // UNICODE (raw-unicode-escape; checkpoints use plain ASCII)
      case 0x54: { // BINSTRING
        const n = i32();
        if (n < 0) fail("BINSTRING with a negative length");
        push(latin1(sized(n)));
        break;
      }
      case 0x55: push(latin1(sized(u8()))); break; // SHORT_BINSTRING
      case 0x53: { // STRING: a quoted repr
        const t = line();
        const m = /^(['"])(.*)\1$/s.exec(t);
        if (!m || m[2].includes("\\")) fail("STRING that is not a plain quoted string");
        push(m![2]);
        break;
      }
      case 0x42: push(sized(le(4))); break; // BINBYTES
      case 0x43: push(sized(u8())); break; // SHORT_BINBYTES
      case 0x8e: push(sized(u64())); break; // BINBYTES8
      case 0x96: push(sized(u64())); break; // BYTEARRAY8
      case 0x98: top(); break; // READONLY_BUFFER
      case 0x97: throw error("NEXT_BUFFER: out-of-band buffers are not part of a checkpoint");
      case 0x5d: push([]); break; // EMPTY_LIST
      case 0x29: push(new PickleTuple([])); break; // EMPTY_TUPLE
      case 0x7d: push(new PickleDict()); break; // EMPTY_DICT
      case 0x8f: push(new PickleSet([], false)); break; // EMPTY_SET
      case 0x6c: push(popMark()); break; // LIST
      case 0x74: push(new PickleTuple(popMark())); break; // TUPLE
      case 0x85: push(new PickleTuple([pop()])); break; // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); push(new PickleTuple([a, b])); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); push(new PickleTuple([a, b, c])); break; } // TUPLE3
      case 0x91: push(new PickleSet(popMark(), true)); break; // FROZENSET
      case 0x64: { // DICT
        const d = new PickleDict();
        setItems(d, popMark());
        push(d);
        break;
      }
      case 0x61: { const v = pop(); appendItems(top(), [v]); break; } // APPEND
      case 0x65: { const items = popMark(); appendItems(top(), items); break; } // APPENDS
      case 0x90: { const items = popMark(); appendItems(top(), items); break; } // ADDITEMS
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const items = popMark(); setItems(top(), items); break; } // SETITEMS
      case 0x70: put(number(line()) as number); break; // PUT
      case 0x71: put(u8()); break; // BINPUT
      case 0x72: put(le(4)); break; // LONG_BINPUT
      case 0x94: put(memo.size); break; // MEMOIZE
      case 0x67: get(number(line()) as number); break; // GET
      case 0x68: get(u8()); break; // BINGET
      case 0x6a: get(le(4)); break; // LONG_BINGET
      case 0x63: { // GLOBAL
        const module = line();
        push(resolveGlobal(module, line()));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== "string" || typeof name !== "string") fail("STACK_GLOBAL of something that is not two strings");
        push(resolveGlobal(module as string, name as string));
        break;
      }
      case 0x69: { // INST module\nname\n: a call on the marked items
        const module = line();
        const g = resolveGlobal(module, line());
        push(applyGlobal(g, popMark()));
        break;
      }
      case 0x6f: { // OBJ: class and arguments after the mark
        const items = popMark();
        if (items.length === 0) fail("OBJ without a class");
        push(applyGlobal(items[0], items.slice(1)));
        break;
      }
      case 0x52: { const args = pop(); call(pop(), args); break; } // REDUCE
      case 0x81: { const args = pop(); call(pop(), args); break; } // NEWOBJ
      case 0x92: { // NEWOBJ_EX
        const kwargs = pop();
        const args = pop();
        const cls = pop();
        if (!(kwargs instanceof PickleDict) || kwargs.entries.size > 0) fail("NEWOBJ_EX with keyword arguments");
        call(cls, args);
        break;
      }
      case 0x62: { const state = pop(); applyBuild(top(), state); break; } // BUILD
      case 0x51: { // BINPERSID
        const pid = pop();
        push(options.persistentLoad(pid));
        break;
      }
      case 0x50: throw error("PERSID (text persistent ids are not written by torch)");
      case 0x82: case 0x83: case 0x84: throw error("EXT opcodes (the copyreg extension registry names code)");
      default: fail(`unknown opcode 0x${op.toString(16).padStart(2, "0")}`);
    }
  }
}

