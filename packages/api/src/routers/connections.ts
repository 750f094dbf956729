import {
  createConnection,
  deleteConnection,
  findConnectionOrgId,
  getConnection,
  listConnections,
  summarizeStdioServer,
  syncConnection,
  testConnection,
  updateConnection,
  type Connection,
} from "@mcp/core";
import { z } from "zod";
import { pageOf } from "../contracts/common";
import {
  connection,
  connectionTestResult,
  createConnectionInput,
  listConnectionsInput,
  stdioServerList,
  syncResult,
  updateConnectionInput,
  updatedConnection,
} from "../contracts/connections";
import { orgProcedure, resourceProcedure, router } from "../trpc";
import { toWire } from "../wire";

const tags = ["connections"];
const connectionProcedure = (minimum: "viewer" | "admin") =>
  resourceProcedure("Connection", minimum, findConnectionOrgId);

/** The wire view: secrets reduced to whether they are set and under which names. */
function present<T extends Connection>(row: T) {
  const { secret_ciphertext, secret_keys, ...rest } = row;
  return toWire({
    ...rest,
    has_secret: secret_ciphertext !== null,
    secret_keys: secret_keys ?? { headers: [], env: [] },
  });
}

export const connectionsRouter = router({
  list: orgProcedure("viewer")
    .meta({
      openapi: {
        method: "GET",
        path: "/orgs/{org_id}/connections",
        tags,
        summary: "List MCP server connections",
        protect: true,
      },
    })
    .input(listConnectionsInput)
    .output(pageOf(connection))
    .query(async ({ ctx, input }) => {
      const page = await listConnections(ctx.db, { ...input, orgId: ctx.org.id });
      return { results: page.results.map(present), next_cursor: page.next_cursor };
    }),

  stdioServers: orgProcedure("viewer")
    .meta({
      openapi: {
        method: "GET",
        path: "/orgs/{org_id}/stdio-servers",
        tags,
        summary: "List the stdio servers a connection may start",
        description:
          "Declared by the operator (MCP_STDIO_SERVERS); a stdio connection picks one by id and sets only the variables it lists.",
        protect: true,
      },
    })
    .output(stdioServerList)
    .query(({ ctx }) => ({
      results: ctx.runtime.outbound.stdioServers.map(summarizeStdioServer),
    })),

  create: orgProcedure("admin")
    .meta({
      openapi: {
        method: "POST",
        path: "/orgs/{org_id}/connections",
        tags,
        summary: "Register an MCP server",
        protect: true,
      },
      successStatus: 201,
    })
    .input(createConnectionInput)
    .output(connection)
    .mutation(async ({ ctx, input }) =>
      present(
        await createConnection(ctx.db, ctx.runtime, ctx.action, { ...input, orgId: ctx.org.id }),
      ),
    ),

  get: connectionProcedure("viewer")
    .meta({
      openapi: {
        method: "GET",
        path: "/connections/{id}",
        tags,
        summary: "Get a connection",
        protect: true,
      },
    })
    .output(connection)
    .query(async ({ ctx, input }) =>
      present(await getConnection(ctx.db, { orgId: ctx.org.id, id: input.id })),
    ),

  update: connectionProcedure("admin")
    .meta({
      openapi: {
        method: "PATCH",
        path: "/connections/{id}",
        tags,
        summary: "Update a connection",
        protect: true,
      },
    })
    .input(updateConnectionInput)
    .output(updatedConnection)
    .mutation(async ({ ctx, input }) =>
      present(
        await updateConnection(ctx.db, ctx.runtime, ctx.action, { ...input, orgId: ctx.org.id }),
      ),
    ),

  delete: connectionProcedure("admin")
    .meta({
      openapi: {
        method: "DELETE",
        path: "/connections/{id}",
        tags,
        summary: "Delete a connection and its tools",
        protect: true,
      },
      successStatus: 204,
    })
    .output(z.void())
    .mutation(async ({ ctx, input }) => {
      await deleteConnection(ctx.db, ctx.runtime, ctx.action, { orgId: ctx.org.id, id: input.id });
    }),

  test: connectionProcedure("admin")
    .meta({
      openapi: {
        method: "POST",
        path: "/connections/{id}/test",
        tags,
        summary: "Test a connection with a real MCP initialize + ping",
        description:
          "Never fails for an upstream problem: `ok: false` and `error` say what went wrong.",
        protect: true,
      },
    })
    .output(connectionTestResult)
    .mutation(({ ctx, input }) =>
      testConnection(ctx.db, ctx.runtime, ctx.action, { orgId: ctx.org.id, id: input.id }),
    ),

  sync: connectionProcedure("admin")
    .meta({
      openapi: {
        method: "POST",
        path: "/connections/{id}/sync",
        tags,
        summary: "Sync the server's tools into the registry",
        description:
          "Follows tools/list pagination; tools no longer offered are marked stale and disabled.",
        protect: true,
      },
    })
    .output(syncResult)
    .mutation(({ ctx, input }) =>
      syncConnection(ctx.db, ctx.runtime, ctx.action, { orgId: ctx.org.id, id: input.id }),
    ),
});
