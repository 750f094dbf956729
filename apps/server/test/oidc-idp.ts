import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import Provider from "oidc-provider";

/*
 * An OpenID Connect identity provider for the SSO tests (oidc-provider, in process): the
 * platform is registered as a confidential client, PKCE is required, and the login step signs in
 * whichever account the test put in `nextAccount`, with the claims the test gave it: at once, or
 * (`loginPage`, for browser tests) after a click on the login page's "Sign in" button.
 */

export interface IdpAccount {
  sub: string;
  email?: string;
  email_verified?: boolean;
  given_name?: string;
  family_name?: string;
}

export interface TestIdp {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** The accounts the IdP knows, by subject; tests add and change them. */
  accounts: Map<string, IdpAccount>;
  /** Who signs in at the next login step. */
  nextAccount: string;
  /** Show a login page with a "Sign in" button instead of signing in at once. */
  loginPage: boolean;
  /** Registers the platform's callback; call once the platform's URL is known. */
  /** Adds a platform callback the IdP accepts (all those registered before stay valid). */
  registerPlatform: (redirectUri: string) => void;
  close: () => Promise<void>;
}

export async function startTestIdp(): Promise<TestIdp> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // Each platform registered adds its callback; the provider is rebuilt with them all.
  const redirectUris: string[] = [];
  let handle: ((req: IncomingMessage, res: ServerResponse) => void) | null = null;
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    if (handle) handle(req, res);
    else res.writeHead(503).end();
  });
  const idp: TestIdp = {
    issuer,
    clientId: "mcp-platform",
    clientSecret: "platform-client-secret-for-tests",
    accounts: new Map(),
    nextAccount: "nobody",
    loginPage: false,
    registerPlatform: (redirectUri) => {
      redirectUris.push(redirectUri);
      const provider = new Provider(issuer, {
        clients: [
          {
            client_id: idp.clientId,
            client_secret: idp.clientSecret,
            redirect_uris: [...redirectUris],
            response_types: ["code"],
            grant_types: ["authorization_code"],
          },
        ],
        claims: {
          openid: ["sub"],
          email: ["email", "email_verified"],
          profile: ["given_name", "family_name"],
        },
        features: { devInteractions: { enabled: false } },
        pkce: { required: () => true },
        findAccount: (_ctx, id) => {
          const account = idp.accounts.get(id);
          return account ? { accountId: id, claims: () => ({ ...account }) } : undefined;
        },
        interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
      });
      // The login and consent step: the chosen account signs in and approves what was asked.
      const interact = async (req: IncomingMessage, res: ServerResponse) => {
        const details = await provider.interactionDetails(req, res);
        if (idp.loginPage && req.method === "GET") {
          res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(
            `<!doctype html><html lang="en"><head><title>Test IdP</title></head><body>
<h1>Test IdP</h1><p>Signing in as ${idp.nextAccount}</p>
<form method="post" action="/interaction/${details.uid}"><button type="submit">Sign in</button></form>
</body></html>`,
          );
          return;
        }
        const accountId = idp.nextAccount;
        const grant = new provider.Grant({ accountId, clientId: String(details.params.client_id) });
        grant.addOIDCScope(String(details.params.scope));
        const grantId = await grant.save();
        await provider.interactionFinished(
          req,
          res,
          { login: { accountId }, consent: { grantId } },
          { mergeWithLastSubmission: false },
        );
      };
      const callback = provider.callback();
      handle = (req, res) => {
        if (req.url?.startsWith("/interaction/")) {
          interact(req, res).catch(() => {
            res.writeHead(500).end();
          });
          return;
        }
        void callback(req, res);
      };
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  return idp;
}
