import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import Provider, { errors } from "oidc-provider";

/*
 * An OAuth-protected MCP server for the outbound OAuth tests: a real OAuth 2.x authorization
 * server (oidc-provider: dynamic registration, PKCE, resource indicators, refresh tokens,
 * revocation) on one port, and on another an MCP server (the SDK's) that accepts only access
 * tokens that server issued for it, announcing it with a 401 and RFC 9728 metadata.
 */

export interface OAuthUpstream {
  /** The MCP endpoint. */
  url: string;
  /** The authorization server's issuer. */
  issuer: string;
  provider: Provider;
  /** Who signs in at the authorization server's login step next. */
  nextAccount: string;
  /** Lifetime of access tokens issued from now on, seconds. */
  accessTokenTtl: number;
  /** Refresh-token grants the authorization server served. */
  refreshes: number;
  /** Clients registered dynamically. */
  registrations: number;
  /** The last access token each account called the MCP server with. */
  lastToken: Map<string, string>;
  /** What the MCP server's protected resource metadata names as its authorization server. */
  advertisedAuthorizationServer: string;
  /** Revokes the account's last access token at the authorization server. */
  revokeAccessToken: (account: string) => Promise<void>;
  /** Revokes the account's whole grant (refresh tokens included), as a user removing the app would. */
  revokeGrant: (account: string) => Promise<void>;
  close: () => Promise<void>;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  return text === "" ? undefined : JSON.parse(text);
}

export async function startOAuthUpstream(): Promise<OAuthUpstream> {
  const asServer = createServer();
  const asPort = await listen(asServer);
  const mcpServer = createServer();
  const mcpPort = await listen(mcpServer);
  const issuer = `http://127.0.0.1:${asPort}`;
  const mcpUrl = `http://127.0.0.1:${mcpPort}/mcp`;

  const provider = new Provider(issuer, {
    clients: [],
    features: {
      devInteractions: { enabled: false },
      registration: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resourceIndicator) => {
          if (resourceIndicator !== mcpUrl) throw new errors.InvalidTarget();
          return {
            scope: "mcp",
            audience: resourceIndicator,
            accessTokenTTL: upstream.accessTokenTtl,
            accessTokenFormat: "opaque",
          };
        },
      },
    },
    pkce: { required: () => true },
    issueRefreshToken: () => true,
    expiresWithSession: () => false,
    findAccount: (_ctx, id) => ({ accountId: id, claims: () => ({ sub: id }) }),
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  });
  provider.on("grant.success", (ctx) => {
    if (ctx.oidc.params?.grant_type === "refresh_token") upstream.refreshes++;
  });
  provider.on("registration_create.success", () => {
    upstream.registrations++;
  });

  // The login and consent step: the configured account signs in and approves what was asked.
  const interact = async (req: IncomingMessage, res: ServerResponse) => {
    const details = await provider.interactionDetails(req, res);
    const accountId = upstream.nextAccount;
    const grant = new provider.Grant({ accountId, clientId: String(details.params.client_id) });
    const resource = details.params.resource;
    if (typeof resource === "string") grant.addResourceScope(resource, "mcp");
    const grantId = await grant.save();
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId }, consent: { grantId } },
      { mergeWithLastSubmission: false },
    );
  };
  const callback = provider.callback();
  asServer.on("request", (req: IncomingMessage, res: ServerResponse) => {
    if (req.url?.startsWith("/interaction/")) {
      interact(req, res).catch(() => {
        res.writeHead(500).end();
      });
      return;
    }
    void callback(req, res);
  });

  const metadataUrl = `http://127.0.0.1:${mcpPort}/.well-known/oauth-protected-resource/mcp`;
  const refuse = (res: ServerResponse) => {
    res
      .writeHead(401, {
        "content-type": "application/json",
        "www-authenticate": `Bearer resource_metadata="${metadataUrl}"`,
      })
      .end(JSON.stringify({ error: "invalid_token" }));
  };
  const serveMcp = async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? "/", mcpUrl).pathname;
    if (path === "/.well-known/oauth-protected-resource/mcp") {
      res.writeHead(200, { "content-type": "application/json" }).end(
        JSON.stringify({
          resource: mcpUrl,
          authorization_servers: [upstream.advertisedAuthorizationServer],
          bearer_methods_supported: ["header"],
          scopes_supported: ["mcp"],
        }),
      );
      return;
    }
    // A look-alike of the real metadata under another origin (the mix-up tests point here).
    if (path === "/.well-known/oauth-authorization-server") {
      const real = await fetch(`${issuer}/.well-known/openid-configuration`);
      res.writeHead(200, { "content-type": "application/json" }).end(await real.text());
      return;
    }
    if (path !== "/mcp") {
      res.writeHead(404).end();
      return;
    }
    const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? "")?.[1];
    const token = bearer ? await provider.AccessToken.find(bearer) : undefined;
    if (!bearer || !token || token.isExpired || token.aud !== mcpUrl || !token.accountId) {
      refuse(res);
      return;
    }
    const account = token.accountId;
    upstream.lastToken.set(account, bearer);
    const body = req.method === "POST" ? await readBody(req) : undefined;
    const server = new McpServer({ name: "oauth-protected", version: "1.0.0" });
    server.registerTool("whoami", { description: "The account whose token made the call" }, () => ({
      content: [{ type: "text", text: account }],
    }));
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    res.on("close", () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  };
  mcpServer.on("request", (req: IncomingMessage, res: ServerResponse) => {
    serveMcp(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  });

  const upstream: OAuthUpstream = {
    url: mcpUrl,
    issuer,
    provider,
    nextAccount: "nobody",
    accessTokenTtl: 3600,
    refreshes: 0,
    registrations: 0,
    lastToken: new Map(),
    advertisedAuthorizationServer: issuer,
    revokeAccessToken: async (account) => {
      const value = upstream.lastToken.get(account);
      const token = value ? await provider.AccessToken.find(value) : undefined;
      if (!token) throw new Error(`no access token seen for ${account}`);
      await token.destroy();
    },
    revokeGrant: async (account) => {
      const value = upstream.lastToken.get(account);
      const token = value ? await provider.AccessToken.find(value) : undefined;
      const grant = token?.grantId ? await provider.Grant.find(token.grantId) : undefined;
      if (!token || !grant) throw new Error(`no grant seen for ${account}`);
      await grant.destroy();
      await token.destroy();
    },
    close: async () => {
      mcpServer.closeAllConnections();
      asServer.closeAllConnections();
      await Promise.all([
        new Promise((resolve) => mcpServer.close(resolve)),
        new Promise((resolve) => asServer.close(resolve)),
      ]);
    },
  };
  return upstream;
}
