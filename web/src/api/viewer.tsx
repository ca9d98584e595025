import { createContext, useContext } from "react";

export type Role = "READER" | "WRITER" | "ADMIN";
export interface Viewer {
  name: string;
  role: Role;
  anonymous: boolean;
}

const RANK: Record<Role, number> = { READER: 0, WRITER: 1, ADMIN: 2 };

export interface ViewerState {
  viewer: Viewer | undefined;
  /** Opens the token form (from a disabled action's "enter a token" link). */
  askForToken(reason?: string): void;
}

export const ViewerContext = createContext<ViewerState>({ viewer: undefined, askForToken: () => undefined });

export function useViewer(): ViewerState {
  return useContext(ViewerContext);
}

/**
 * Whether the viewer may do something that needs `role`, and if not, why — in words a person
 * can act on. Unknown viewer (still loading): allowed; the server has the last word anyway.
 */
export function permission(viewer: Viewer | undefined, role: Role): { allowed: boolean; reason?: string } {
  if (!viewer || RANK[viewer.role] >= RANK[role]) return { allowed: true };
  const who = viewer.anonymous ? "Without a token you can only read" : `Your token (${viewer.name}) has role ${viewer.role}`;
  return { allowed: false, reason: `${who}; this needs role ${role} or higher.` };
}
