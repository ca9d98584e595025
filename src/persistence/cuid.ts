import { hostname } from "node:os";
import { randomBytes } from "node:crypto";

/**
 * An id in the form of Prisma's `@default(cuid())` (cuid v1: "c", the time in base 36, a counter,
 * a process fingerprint and 8 random base-36 digits), for rows written without Prisma's query
 * engine (see directSql), so that every model id looks alike.
 */
export function cuid(): string {
  counter = (counter + 1) % BLOCK;
  return `c${Date.now().toString(36)}${pad(counter.toString(36))}${FINGERPRINT}${randomBlock()}${randomBlock()}`;
}

const BLOCK = 36 ** 4;
let counter = Math.floor(Math.random() * BLOCK);

const FINGERPRINT = (() => {
  const host = hostname();
  const hostSum = [...host].reduce((sum, c) => sum + c.charCodeAt(0), host.length + 36);
  return pad(process.pid.toString(36)).slice(-2) + pad(hostSum.toString(36)).slice(-2);
})();

function randomBlock(): string {
  return pad((randomBytes(4).readUInt32BE() % BLOCK).toString(36));
}

function pad(digits: string): string {
  return digits.padStart(4, "0").slice(-4);
}
