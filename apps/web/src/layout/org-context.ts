import type { OrgRole } from "@mcp/api/contracts";
import type { Org } from "../lib/api";
import { createContext, useContext } from "react";
import { roleAtLeast } from "../lib/roles";

export interface OrgContextValue {
  org: Org;
  /** Whether the caller's role reaches `minimum`; controls the caller may not use are hidden. */
  can: (minimum: OrgRole) => boolean;
  /** Path inside the current org, e.g. `path("tools")`. */
  path: (...segments: string[]) => string;
}

export const OrgContext = createContext<OrgContextValue | null>(null);

export function useOrg(): OrgContextValue {
  const value = useContext(OrgContext);
  if (!value) throw new Error("useOrg outside an organization route");
  return value;
}

export function makeOrgContext(org: Org): OrgContextValue {
  return {
    org,
    can: (minimum) => roleAtLeast(org.role, minimum),
    path: (...segments) => [`/orgs/${org.id}`, ...segments].join("/"),
  };
}
