import type { Services } from "../services/services";
import type { Loaders } from "../services/loaders";
import type { Role } from "../domain/enums";

export interface RequestViewer {
  role: Role;
  /** No token was sent: the role is the auth mode's default. */
  anonymous: boolean;
  tokenId: string | null;
  name: string;
}

export interface GraphQLContext {
  services: Services;
  loaders: Loaders;
  viewer: RequestViewer;
  requestId: string;
}
