import { createHash, randomBytes } from "node:crypto";
import type { Db } from "../persistence/database";
import { badInput, DomainError, notFound } from "../core/errors";
import { Role } from "../domain/enums";
import { oneOf, requiredText } from "./validate";
import { parseDuration } from "../core/duration";

export { parseDuration };

export type TokenRow = Awaited<ReturnType<Db["apiToken"]["findFirstOrThrow"]>>;

export interface Viewer {
  role: Role;
  tokenId: string | null;
  name: string;
}

const TOKEN_PREFIX = "lm_";

export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/**
 * API tokens: the secret is shown once at creation; only its sha256 is stored, plus a short
 * prefix so that a person can tell tokens apart in a list.
 */
export class TokenService {
  private readonly lastUsedWrites = new Map<string, number>();

  constructor(private readonly db: Db, private readonly now: () => Date = () => new Date()) {}

  async create(input: { name: string; role: string; expiresIn?: string | null; expiresAt?: Date | null }): Promise<{ token: string; record: TokenRow }> {
    const name = requiredText(input.name, "input.name");
    const role = oneOf(input.role, Role, "input.role");
    let expiresAt: Date | null = input.expiresAt ?? null;
    if (input.expiresIn) expiresAt = new Date(this.now().getTime() + parseDuration(input.expiresIn, "input.expiresIn"));
    if (expiresAt && expiresAt.getTime() <= this.now().getTime()) throw badInput("input.expiresAt must be in the future", "input.expiresAt");
    const token = TOKEN_PREFIX + randomBytes(32).toString("base64url");
    const record = await this.db.apiToken.create({
      data: { name, role, tokenHash: hashToken(token), prefix: token.slice(0, 10), expiresAt },
    });
    return { token, record };
  }

  async createForApi(input: { name: string; role: string; expiresIn?: string | null }): Promise<{ token: string; apiToken: TokenRow }> {
    const { token, record } = await this.create(input);
    return { token, apiToken: record };
  }

  list(includeRevoked = false) {
    return this.db.apiToken.findMany({ where: includeRevoked ? {} : { revokedAt: null }, orderBy: [{ createdAt: "asc" }, { id: "asc" }] });
  }

  async revoke(id: string): Promise<TokenRow> {
    const token = await this.db.apiToken.findUnique({ where: { id } });
    if (!token) throw notFound("token", id, "id");
    if (token.revokedAt) return token;
    return this.db.apiToken.update({ where: { id }, data: { revokedAt: this.now() } });
  }

  /** The viewer a bearer token stands for; UNAUTHENTICATED when it is unknown, revoked or expired. */
  async authenticate(token: string): Promise<Viewer> {
    const record = await this.db.apiToken.findUnique({ where: { tokenHash: hashToken(token) } });
    if (!record) throw new DomainError("UNAUTHENTICATED", "the API token is not valid");
    if (record.revokedAt) throw new DomainError("UNAUTHENTICATED", "the API token has been revoked");
    const now = this.now();
    if (record.expiresAt && record.expiresAt.getTime() <= now.getTime()) throw new DomainError("UNAUTHENTICATED", "the API token has expired");
    // Record use at most once a minute per token: a busy dashboard should not write per request.
    const last = this.lastUsedWrites.get(record.id) ?? 0;
    if (now.getTime() - last > 60_000) {
      this.lastUsedWrites.set(record.id, now.getTime());
      await this.db.apiToken.update({ where: { id: record.id }, data: { lastUsedAt: now } });
    }
    return { role: record.role as Role, tokenId: record.id, name: record.name };
  }
}
