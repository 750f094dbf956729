import type { AnyTRPCProcedure, AnyTRPCRouter } from "@trpc/server";
import type { Meta } from "./trpc";

export interface RestProcedure {
  /** Dotted tRPC path, e.g. `orgs.members.list`. */
  path: string;
  type: "query" | "mutation" | "subscription";
  openapi: NonNullable<Meta["openapi"]>;
  successStatus: 200 | 201 | 204;
}

/** The procedures that have a REST face, read from their `meta.openapi`. */
export function restProcedures(router: AnyTRPCRouter): RestProcedure[] {
  // tRPC keeps a flat map of dotted paths to procedures beside the nested record.
  const procedures = router._def.procedures as unknown as Record<string, AnyTRPCProcedure>;
  const result: RestProcedure[] = [];
  for (const [path, procedure] of Object.entries(procedures)) {
    const def = procedure._def as AnyTRPCProcedure["_def"] & { meta?: Meta };
    const openapi = def.meta?.openapi;
    if (!openapi || openapi.enabled === false) continue;
    result.push({ path, type: def.type, openapi, successStatus: def.meta?.successStatus ?? 200 });
  }
  return result;
}
