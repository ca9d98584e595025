import { GraphQLFieldResolver, GraphQLObjectType, GraphQLScalarType, GraphQLSchema } from "graphql";
import { getMetadataStorage } from "type-graphql";

type Storage = ReturnType<typeof getMetadataStorage>;
type HandlerMetadata = Storage["fieldResolvers"][number] | Storage["queries"][number];
type ParamMetadata = NonNullable<HandlerMetadata["params"]>[number];
type ParamGetter = (root: any, args: Record<string, unknown>, context: any, info: unknown) => unknown;

/**
 * type-graphql wraps every field of every object in a resolver of its own, even where nothing
 * (no middleware, no role) needs one: a plain column goes through a closure that reads it back,
 * and a field resolver copies its parent row into a new instance of the type's class, sorts its
 * parameter list, and awaits an argument validation that this schema turns off — for every row
 * of a page. On a page of 50 models that was a large share of the request's CPU, and it keeps a
 * compiled executor from inlining plain fields.
 *
 * This removes the wrappers where they do nothing, after the schema is built:
 * - a plain field with neither middleware nor role, read under its own name, gets a resolver
 *   that reads the property, as type-graphql's does, without the middleware machinery. (Not
 *   none: an executor may then inline the read and not wait for a value that is a promise, as
 *   a connection's lazily counted `totalCount` is);
 * - a field resolver or query whose parameters are only the parent, the context, the resolve
 *   info and scalar or enum arguments, with neither middleware nor role, calls its method
 *   directly with them.
 * Everything that has a middleware (TakeTurn), a role (@Authorized), an input-object argument or
 * a custom parameter keeps type-graphql's resolver, so its checks run exactly as before.
 * Resolver classes here hold no state and take no constructor arguments, so one instance per
 * class serves every call (as type-graphql's default container does). Returns how many fields
 * were changed (for the test that proves the wrappers are gone).
 */
export function installDirectResolvers(schema: GraphQLSchema, resolverClasses: readonly Function[]): { plain: number; direct: number } {
  const storage = getMetadataStorage();
  const instances = new Map<Function, Record<string, (...args: unknown[]) => unknown>>();
  const instanceOf = (target: Function) => {
    let instance = instances.get(target);
    if (!instance) instances.set(target, (instance = new (target as new () => Record<string, (...args: unknown[]) => unknown>)()));
    return instance;
  };
  const changed = { plain: 0, direct: 0 };

  for (const objectType of storage.objectTypes) {
    const type = schema.getType(objectType.name);
    if (!(type instanceof GraphQLObjectType)) continue;
    const fields = type.getFields();
    for (const [fieldName, field] of Object.entries(fields)) {
      const handlers = storage.fieldResolvers.filter((r) => r.getObjectType?.() === objectType.target && r.schemaName === fieldName);
      if (handlers.length > 0) {
        const handler = handlers.find((r) => resolverClasses.includes(r.target));
        if (handlers.length !== 1 || !handler || handler.kind !== "external") continue;
        const direct = directHandler(handler, instanceOf);
        if (direct) {
          field.resolve = direct;
          changed.direct++;
        }
        continue;
      }
      const plain = objectType.fields?.find((f) => f.schemaName === fieldName);
      if (plain && plain.name === fieldName && !plain.middlewares?.length && !plain.roles && !(plain.params?.length)) {
        field.resolve = readProperty(fieldName);
        changed.plain++;
      }
    }
  }

  const query = schema.getQueryType();
  if (query) {
    const fields = query.getFields();
    for (const handler of storage.queries) {
      if (!resolverClasses.includes(handler.target) || !fields[handler.schemaName]) continue;
      const direct = directHandler(handler, instanceOf);
      if (direct) {
        fields[handler.schemaName]!.resolve = direct;
        changed.direct++;
      }
    }
  }
  return changed;
}

function readProperty(name: string): GraphQLFieldResolver<Record<string, unknown> | null | undefined, unknown> {
  return (root) => root?.[name];
}

function directHandler(handler: HandlerMetadata, instanceOf: (target: Function) => Record<string, (...args: unknown[]) => unknown>): GraphQLFieldResolver<unknown, unknown> | null {
  if (handler.middlewares?.length || handler.roles) return null;
  const getters: ParamGetter[] = [];
  for (const param of [...(handler.params ?? [])].sort((a, b) => a.index - b.index)) {
    const getter = paramGetter(param);
    if (!getter) return null;
    getters.push(getter);
  }
  const instance = instanceOf(handler.target);
  const method = instance[handler.methodName];
  if (typeof method !== "function") return null;
  const count = getters.length;
  return (root, args, context, info) => {
    const values = new Array<unknown>(count);
    for (let i = 0; i < count; i++) values[i] = getters[i]!(root, args, context, info);
    return method.apply(instance, values);
  };
}

/** What type-graphql would pass for a parameter, when it passes the value as it is. */
function paramGetter(param: ParamMetadata): ParamGetter | null {
  switch (param.kind) {
    case "root":
      return param.propertyName ? (root) => root?.[param.propertyName!] : (root) => root;
    case "context":
      return param.propertyName ? (_r, _a, context) => context?.[param.propertyName!] : (_r, _a, context) => context;
    case "info":
      return (_r, _a, _c, info) => info;
    case "arg": {
      if (param.validateFn || param.validateSettings) return null;
      const argType = param.getType();
      // Scalars and enums reach the method unchanged; input objects become class instances.
      const passedAsIs = argType instanceof GraphQLScalarType || [String, Number, Boolean, Date].includes(argType as never) || (typeof argType === "object" && argType !== null);
      if (!passedAsIs) return null;
      const name = param.name;
      return (_r, args) => args[name];
    }
    default:
      return null;
  }
}
