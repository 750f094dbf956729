import { z } from "zod";
import { orgRole } from "./orgs";
import { timestamp, uuid } from "./common";

/** The id of a pending authorization request, as it appears in the consent page's URL. */
export const authorizationRequestId = z
  .string()
  .regex(/^[A-Za-z0-9_-]{16,64}$/, { error: "Not an authorization request id" });

export const authorizationRequest = z.object({
  id: z.string(),
  client: z.object({
    client_id: z.string(),
    kind: z
      .enum(["registered", "metadata_document"])
      .describe(
        "`metadata_document`: the client id is the URL of the client's own metadata; `registered`: self-registered, its name is unverified",
      ),
    name: z.string().nullable(),
    uri: z.string().nullable(),
    logo_uri: z.string().nullable(),
  }),
  redirect_uri: z.string().describe("Where the browser goes after the decision"),
  agent: z.object({ id: uuid, name: z.string(), description: z.string() }),
  org: z.object({ id: uuid, name: z.string() }),
  scope: z.string(),
  resource: z.string().describe("The agent's MCP URL the token will be bound to"),
  can_approve: z.boolean().describe("Whether the caller's role lets them approve"),
  approver_role: orgRole,
  your_role: orgRole,
  expires_at: timestamp,
});
export type AuthorizationRequestDto = z.infer<typeof authorizationRequest>;

export const authorizationDecisionInput = z.object({
  id: authorizationRequestId,
  approve: z.boolean(),
});

export const authorizationDecision = z.object({
  redirect_to: z.string().describe("Send the browser here: the client's redirect URI"),
});

export const oauthGrant = z.object({
  id: uuid,
  agent_id: uuid,
  client_id: z.string(),
  client_name: z.string().nullable(),
  client_uri: z.string().nullable(),
  scope: z.string(),
  approved_by: z.object({
    id: uuid,
    email: z.string(),
    first_name: z.string(),
    last_name: z.string(),
  }),
  created_at: timestamp,
  last_used_at: timestamp.nullable(),
});
export type OAuthGrantDto = z.infer<typeof oauthGrant>;
