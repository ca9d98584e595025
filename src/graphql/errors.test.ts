import { GraphQLError } from "graphql";
import { createFormatError } from "./errors";
import { DomainError } from "../core/errors";

function fakeLogger() {
  const calls: unknown[][] = [];
  return { logger: { error: (...args: unknown[]) => calls.push(args) } as never, calls };
}

describe("formatError", () => {
  test("a DomainError keeps its message, code and field", () => {
    const { logger, calls } = fakeLogger();
    const wrapped = new GraphQLError("x", { path: ["createModel"], originalError: new DomainError("BAD_USER_INPUT", "input.name must not be empty", { field: "input.name" }) });
    const out = createFormatError(logger)({ message: "x", path: ["createModel"] }, wrapped);
    expect(out).toEqual({ message: "input.name must not be empty", path: ["createModel"], locations: undefined, extensions: { code: "BAD_USER_INPUT", field: "input.name" } });
    expect(calls).toHaveLength(0);
  });

  test("an unexpected error is masked for the client and logged in full", () => {
    const { logger, calls } = fakeLogger();
    const secret = new Error("connect ECONNREFUSED 10.0.0.5:5432 password=hunter2");
    const wrapped = new GraphQLError(secret.message, { path: ["models"], originalError: secret });
    const out = createFormatError(logger)({ message: secret.message, path: ["models"], extensions: { code: "INTERNAL_SERVER_ERROR" } }, wrapped);
    expect(out.message).toBe("Internal server error");
    expect(out.extensions).toEqual({ code: "INTERNAL_SERVER_ERROR" });
    expect(JSON.stringify(out)).not.toMatch(/hunter2/);
    expect(calls).toHaveLength(1);
    expect((calls[0][0] as { err: Error }).err).toBe(secret);
  });

  test("GraphQL's own validation errors pass through with their code", () => {
    const { logger } = fakeLogger();
    const error = new GraphQLError('Cannot query field "nope" on type "Query".', { extensions: { code: "GRAPHQL_VALIDATION_FAILED" } });
    const formatted = { message: error.message, extensions: { code: "GRAPHQL_VALIDATION_FAILED" } };
    expect(createFormatError(logger)(formatted, error)).toBe(formatted);
  });

  test("an unreachable database is SERVICE_UNAVAILABLE, reported to the outage log instead of logged per request", () => {
    const { logger, calls } = fakeLogger();
    const reported: unknown[] = [];
    // What Prisma's PostgreSQL adapter throws when the server cannot be reached.
    const down = Object.assign(new Error("Invalid `prisma.job.findFirst()` invocation:\n\nCan't reach database server"), {
      name: "PrismaClientKnownRequestError",
      code: "P1001",
      meta: { driverAdapterError: { name: "DriverAdapterError", cause: { kind: "DatabaseNotReachable", host: "10.0.0.5", port: 5432 } } },
    });
    const wrapped = new GraphQLError(down.message, { path: ["startMerge"], originalError: down });
    const out = createFormatError(logger, { databaseDown: (e) => reported.push(e) })({ message: down.message, path: ["startMerge"], extensions: { code: "INTERNAL_SERVER_ERROR" } }, wrapped);
    expect(out).toEqual({ message: "the database is unreachable; try again shortly", path: ["startMerge"], locations: undefined, extensions: { code: "SERVICE_UNAVAILABLE" } });
    expect(reported).toEqual([down]);
    expect(calls).toHaveLength(0);
  });
});

describe("formatError never leaks server details", () => {
  const withStack = { message: "Syntax Error: Unexpected Name \"x\".", extensions: { code: "GRAPHQL_PARSE_FAILED", stacktrace: ["GraphQLError: Syntax Error", "    at syntaxError (/srv/app/node_modules/graphql/error/syntaxError.js:15:10)"] } };
  const error = new GraphQLError(withStack.message, { extensions: { code: "GRAPHQL_PARSE_FAILED" } });

  test("a stack trace is dropped unless debugging", () => {
    const { logger } = fakeLogger();
    expect(createFormatError(logger)(withStack, error)).toEqual({ message: withStack.message, extensions: { code: "GRAPHQL_PARSE_FAILED" } });
    expect(createFormatError(logger, { debug: true })(withStack, error)).toEqual(withStack);
  });

  test("Apollo's http hint is never sent", () => {
    const { logger } = fakeLogger();
    const formatted = { message: "too deep", extensions: { code: "QUERY_TOO_COMPLEX", depth: 40, http: { status: 400 } } };
    expect(createFormatError(logger)(formatted, new GraphQLError("too deep"))).toEqual({ message: "too deep", extensions: { code: "QUERY_TOO_COMPLEX", depth: 40 } });
  });
});
