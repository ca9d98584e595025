import type { AuthChecker } from "type-graphql";
import { DomainError } from "../core/errors";
import { Role, ROLE_RANK } from "../domain/enums";
import type { GraphQLContext } from "./context";

/**
 * The one authorization rule: an operation marked @Authorized(ROLE) needs a viewer whose role
 * ranks at least as high. Anonymous viewers get UNAUTHENTICATED (send a token), known ones
 * FORBIDDEN (the token's role is too low).
 */
export const authChecker: AuthChecker<GraphQLContext, Role> = ({ context, info }, roles) => {
  const needed = roles.length ? Math.min(...roles.map((r) => ROLE_RANK[r])) : ROLE_RANK.READER;
  if (ROLE_RANK[context.viewer.role] >= needed) return true;
  const role = (Object.keys(ROLE_RANK) as Role[]).find((r) => ROLE_RANK[r] === needed);
  if (context.viewer.anonymous) {
    throw new DomainError("UNAUTHENTICATED", `${info.fieldName} needs an API token with role ${role} or higher (send Authorization: Bearer <token>)`);
  }
  throw new DomainError("FORBIDDEN", `${info.fieldName} needs role ${role} or higher; this token has role ${context.viewer.role}`);
};
