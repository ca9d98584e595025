import type { MiddlewareFn } from "type-graphql";

let gate: Promise<void> = Promise.resolve();

/**
 * Expensive fields (fieldCosts) start one per pass of the event loop. Their work is mostly
 * synchronous — planning a merge over every tensor, comparing structures, and on SQLite even the
 * queries complete without returning to the loop — so ten aliases of one would otherwise run back
 * to back, and a health check or a cheap query arriving meanwhile would wait for all of them.
 * Starting each after a `setImmediate` queued behind the previous one's lets whatever I/O is
 * ready be served in between: the longest anything waits is one field, not one query. Fields
 * that wait on real I/O (PostgreSQL) still overlap: only their starts are spaced.
 */
export const TakeTurn: MiddlewareFn = async (_action, next) => {
  const turn = gate.then(() => new Promise<void>((resolve) => setImmediate(resolve)));
  gate = turn;
  await turn;
  const value = await next();
  // And the result is completed (its lists turned into the response's objects, often as long as
  // the field's own work) after another pass, not in the same stretch.
  await new Promise<void>((resolve) => setImmediate(resolve));
  return value;
};
