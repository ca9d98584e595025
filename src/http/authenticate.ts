import type { IncomingHttpHeaders } from "node:http";
import { DomainError } from "../core/errors";
import type { AuthMode } from "../config/config";
import { Role } from "../domain/enums";
import type { TokenService } from "../services/tokenService";
import type { RequestViewer } from "../graphql/context";

/**
 * Who a request acts as. A token, when sent, must be valid in every mode. Without one:
 * `off` → anonymous ADMIN (the server then listens on loopback by default), `writes` →
 * anonymous READER, `all` → refused.
 */
export async function authenticate(headers: IncomingHttpHeaders, mode: AuthMode, tokens: TokenService): Promise<RequestViewer> {
  const header = headers.authorization;
  if (header) {
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw new DomainError("UNAUTHENTICATED", "the Authorization header must be 'Bearer <token>'");
    const viewer = await tokens.authenticate(match[1]);
    return { ...viewer, anonymous: false };
  }
  if (mode === "all") throw new DomainError("UNAUTHENTICATED", "this server requires an API token (send Authorization: Bearer <token>)");
  return { role: mode === "off" ? Role.ADMIN : Role.READER, anonymous: true, tokenId: null, name: "anonymous" };
}
