import {
  AppError,
  createConnection,
  disconnectConnectionCredential,
  listMyConnections,
  roleAtLeast,
  startConnectionAuthorization,
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
  connectionAuthorizationStart,
  connectionTestResult,
  credentialTarget,
  myConnectionList,
  createConnectionInput,
  listConnectionsInput,
  stdioServerList,
  syncResult,
  updateConnectionInput,
  updatedConnection,
} from "../contracts/connections";
import { orgProcedure, personOnly, resourceProcedure, router } from "../trpc";
import { toWire } from "../wire";
import type { OrgRole } from "@mcp/core";

const tags = ["connections"];
const connectionProcedure = (minimum: "viewer" | "member" | "admin") =>
  resourceProcedure("Connection", minimum, findConnectionOrgId);

/** The wire view: secrets reduced to whether they are set and under which names. */
function present<T extends Connection>(row: T) {
  const {
    secret_ciphertext,
    secret_keys,
    oauth_client_ciphertext: _client,
    oauth_credential_mode,
    oauth_client_registration,
    oauth_client_id,
    oauth_scope,
    ...rest
  } = row;
  return toWire({
    ...rest,
    has_secret: secret_ciphertext !== null,
    secret_keys: secret_keys ?? { headers: [], env: [] },
    oauth: oauth_credential_mode
      ? {
          credential_mode: oauth_credential_mode,
          client_registration: oauth_client_registration,
          client_id: oauth_client_id,
          scope: oauth_scope,
        }
      : null,
  });
}

/** The org's credential is an admin's to connect or remove; a member's own is theirs. */
function assertMayConnect(role: OrgRole, credential: "shared" | "per_user", mode: string | null) {
  if (mode !== credential)
    throw AppError.invalidField(
      "credential",
      mode === null
        ? "This connection does not use OAuth"
        : `This connection's OAuth credential is ${mode}, not ${credential}`,
    );
  if (credential === "shared" && !roleAtLeast(role, "admin"))
    throw AppError.forbidden("Only admins connect or remove the organization's account");
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

  oauthConnect: connectionProcedure("member")
    .use(personOnly)
    .meta({
      openapi: {
        method: "POST",
        path: "/connections/{id}/oauth/connect",
        tags,
        summary: "Start connecting an OAuth-protected server (Connect)",
        description:
          "Discovers the server's authorization server (401 → protected resource metadata → authorization server metadata), registers the platform there unless an admin entered a client, and returns the authorization URL (PKCE, `resource`). The server redirects back to the platform's callback, which stores the tokens. `shared` (admins) connects the organization's account, `per_user` the caller's own.",
        protect: true,
      },
    })
    .input(credentialTarget)
    .output(connectionAuthorizationStart)
    .mutation(async ({ ctx, input }) => {
      const row = await getConnection(ctx.db, { orgId: ctx.org.id, id: input.id });
      assertMayConnect(ctx.org.role, input.credential, row.oauth_credential_mode);
      return toWire(
        await startConnectionAuthorization(ctx.db, ctx.runtime, {
          connection: row,
          userId: ctx.user.id,
          baseUrl: ctx.baseUrl,
        }),
      );
    }),

  oauthDisconnect: connectionProcedure("member")
    .use(personOnly)
    .meta({
      openapi: {
        method: "DELETE",
        path: "/connections/{id}/oauth/credential",
        tags,
        summary: "Remove the organization's (shared) or your own (per_user) OAuth credential",
        description: "Idempotent: succeeds when there is no such credential.",
        protect: true,
      },
      successStatus: 204,
    })
    .input(credentialTarget)
    .output(z.void())
    .mutation(async ({ ctx, input }) => {
      const row = await getConnection(ctx.db, { orgId: ctx.org.id, id: input.id });
      assertMayConnect(ctx.org.role, input.credential, row.oauth_credential_mode);
      await disconnectConnectionCredential(ctx.db, ctx.runtime, ctx.action, {
        connection: row,
        userId: input.credential === "shared" ? null : ctx.user.id,
      });
    }),

  mine: orgProcedure("viewer")
    .use(personOnly)
    .meta({
      openapi: {
        method: "GET",
        path: "/orgs/{org_id}/my-connections",
        tags,
        summary:
          "The organization's OAuth connections and whether the credential each uses for you is connected",
        protect: true,
      },
    })
    .output(myConnectionList)
    .query(async ({ ctx }) => ({
      results: await listMyConnections(ctx.db, { orgId: ctx.org.id, userId: ctx.user.id }),
    })),

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
