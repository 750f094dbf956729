import { createHash } from "node:crypto";
import { and, eq, gt, isNull, lt, sql } from "drizzle-orm";
import * as oidc from "openid-client";
import { recordAudit } from "../audit/audit";
import type { Db } from "../db/client";
import {
  invitations,
  memberships,
  orgs,
  orgSsoDomains,
  ssoFlows,
  userIdentities,
  users,
} from "../db/schema";
import { AppError } from "../errors";
import type { RequestOrigin } from "../lib/context";
import { isUniqueViolation } from "../lib/pg-errors";
import type { McpRuntime } from "../runtime";
import { SecretStoreError } from "../secrets/secret-store";
import {
  isFirstAccount,
  normalizeEmail,
  platformHasUsers,
  publicUserColumns,
  signupRefusal,
  type User,
} from "./accounts";
import type { SignupPolicy } from "./signup";
import { ACCOUNT_DISABLED, createSession, isUserDisabled, type IssuedSession } from "./sessions";

/*
 * Sign-in with the platform's OpenID Connect identity provider (one per platform, configured by
 * the operator): authorization code flow with PKCE, state and nonce (openid-client does the
 * protocol and every check on the answer). A started sign-in lives in the database (any replica
 * takes the callback) and its state in a short-lived cookie of the browser that started it, so a
 * callback URL planted in another browser signs no one in. Accounts are found by the IdP's
 * (issuer, subject); an e-mail claim links or creates an account only when the IdP says it is
 * verified and its domain is allowed.
 */

/** The operator's identity provider settings (env: OIDC_*). */
export interface SsoConfig {
  issuer: string;
  clientId: string;
  /** Unset for a public client (PKCE alone). */
  clientSecret: string | undefined;
  /** Lower-case e-mail domains that may link or create accounts; empty: any. */
  allowedDomains: string[];
  /** What the sign-in button says: "Sign in with <displayName>". */
  displayName: string;
  /** Allow an http:// issuer (development and tests); production requires https. */
  allowInsecureIssuer: boolean;
}

export interface SsoProvider {
  config: SsoConfig;
  /** The IdP's metadata, discovered once per process; a failed discovery is retried next time. */
  discover: () => Promise<oidc.Configuration>;
}

/** How long a started sign-in may be completed. */
const FLOW_TTL_MS = 10 * 60_000;
const SCOPE = "openid email profile";

export const SSO_CALLBACK_PATH = "/auth/sso/callback";
export const SSO_START_PATH = "/auth/sso/start";
/** The browser's half of a started sign-in: its state, HttpOnly, sent only to the callback. */
export const SSO_STATE_COOKIE_NAME = "mcpa_sso_state";
export const SSO_FLOW_TTL_SECONDS = FLOW_TTL_MS / 1000;

export function createSsoProvider(config: SsoConfig): SsoProvider {
  let discovered: Promise<oidc.Configuration> | undefined;
  return {
    config,
    discover: () => {
      discovered ??= discoverIssuer(config).catch((error: unknown) => {
        discovered = undefined;
        throw error;
      });
      return discovered;
    },
  };
}

/*
 * The issuer is the operator's configuration, not a tenant's input, so it is fetched without the
 * private-network rule that guards connections: an IdP on the internal network is common.
 */
async function discoverIssuer(config: SsoConfig): Promise<oidc.Configuration> {
  try {
    return await oidc.discovery(
      new URL(config.issuer),
      config.clientId,
      undefined,
      config.clientSecret === undefined ? oidc.None() : oidc.ClientSecretBasic(config.clientSecret),
      config.allowInsecureIssuer
        ? // eslint-disable-next-line @typescript-eslint/no-deprecated -- http:// issuers outside production only (env.ts); the library marks it so it stands out
          { execute: [oidc.allowInsecureRequests] }
        : undefined,
    );
  } catch (error) {
    throw new AppError(
      "UPSTREAM",
      `The identity provider ${config.issuer} could not be discovered: ${describe(error)}`,
      { cause: error },
    );
  }
}

function describe(error: unknown): string {
  if (error instanceof oidc.ResponseBodyError)
    return `it answered ${error.error}${error.error_description ? ` (${error.error_description})` : ""}`;
  if (error instanceof oidc.AuthorizationResponseError)
    return `it answered ${error.error}${error.error_description ? ` (${error.error_description})` : ""}`;
  if (error instanceof TypeError && error.cause instanceof Error) return error.cause.message;
  return error instanceof Error ? error.message : "unknown error";
}

export function emailDomain(email: string): string {
  return email.slice(email.lastIndexOf("@") + 1);
}

function hashState(state: string): string {
  return createHash("sha256").update(state).digest("hex");
}

function flowBinding(stateHash: string): string {
  return `sso-flow:${stateHash}`;
}

interface StoredFlow {
  code_verifier: string;
  nonce: string;
  redirect_uri: string;
  /** The platform path the browser lands on once signed in. */
  return_to: string;
}

/** A path of this platform's own (`/x`; never `//host`, nor a backslash after the slash); else `/`. */
export function safeReturnPath(path: string | null | undefined): string {
  return path && /^\/(?![/\\])[^\s]*$/.test(path) && path.length <= 2000 ? path : "/";
}

/**
 * Starts a sign-in: the IdP URL to send the browser to, and the state its cookie must hold when
 * it comes back.
 */
export async function startSsoSignIn(
  db: Db,
  runtime: McpRuntime,
  provider: SsoProvider,
  input: { redirectUri: string; returnTo: string | null },
): Promise<{ authorizationUrl: string; state: string }> {
  const configuration = await provider.discover();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const codeVerifier = oidc.randomPKCECodeVerifier();
  const stateHash = hashState(state);
  const flow: StoredFlow = {
    code_verifier: codeVerifier,
    nonce,
    redirect_uri: input.redirectUri,
    return_to: safeReturnPath(input.returnTo),
  };
  await db.insert(ssoFlows).values({
    state_hash: stateHash,
    flow_ciphertext: runtime.secrets.encrypt(JSON.stringify(flow), flowBinding(stateHash)),
    expires_at: new Date(Date.now() + FLOW_TTL_MS),
  });
  const url = oidc.buildAuthorizationUrl(configuration, {
    redirect_uri: input.redirectUri,
    scope: SCOPE,
    state,
    nonce,
    code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: "S256",
  });
  return { authorizationUrl: url.href, state };
}

/** Takes the started sign-in the state names, once: a second callback with it finds nothing. */
async function takeFlow(db: Db, runtime: McpRuntime, state: string): Promise<StoredFlow> {
  const stateHash = hashState(state);
  const [row] = await db.delete(ssoFlows).where(eq(ssoFlows.state_hash, stateHash)).returning();
  if (!row || row.expires_at.getTime() < Date.now())
    throw AppError.badRequest(
      "This sign-in was already completed or has expired; start the sign-in again",
    );
  try {
    return JSON.parse(
      runtime.secrets.decrypt(row.flow_ciphertext, flowBinding(stateHash)),
    ) as StoredFlow;
  } catch (error) {
    if (error instanceof SecretStoreError || error instanceof SyntaxError)
      throw AppError.badRequest("This sign-in cannot be read back; start the sign-in again");
    throw error;
  }
}

/** What the IdP says about the person, as far as signing in needs it. */
interface IdpClaims {
  subject: string;
  email: string | null;
  emailVerified: boolean;
  firstName: string;
  lastName: string;
}

function stringClaim(claims: Record<string, unknown>, name: string): string | undefined {
  const value = claims[name];
  return typeof value === "string" ? value : undefined;
}

/** The code for tokens, checked (state, PKCE, nonce, issuer, audience, signature) by openid-client. */
async function exchangeCode(
  provider: SsoProvider,
  flow: StoredFlow,
  state: string,
  query: URLSearchParams,
): Promise<IdpClaims> {
  const configuration = await provider.discover();
  // The redirect URI the IdP was given, whatever host or proxy this request came through.
  const callbackUrl = new URL(flow.redirect_uri);
  callbackUrl.search = query.toString();
  let claims: Record<string, unknown>;
  try {
    const tokens = await oidc.authorizationCodeGrant(configuration, callbackUrl, {
      pkceCodeVerifier: flow.code_verifier,
      expectedState: state,
      expectedNonce: flow.nonce,
      idTokenExpected: true,
    });
    const idToken = tokens.claims();
    if (!idToken) throw AppError.badRequest("The identity provider returned no ID token");
    claims = { ...idToken };
    // Many IdPs keep the e-mail and name claims for the userinfo endpoint.
    if (configuration.serverMetadata().userinfo_endpoint)
      claims = {
        ...claims,
        ...(await oidc.fetchUserInfo(configuration, tokens.access_token, idToken.sub)),
      };
  } catch (error) {
    if (error instanceof AppError) throw error;
    if (error instanceof TypeError && !(error instanceof oidc.ClientError))
      throw new AppError(
        "UPSTREAM",
        `The identity provider could not be reached: ${describe(error)}`,
        {
          cause: error,
        },
      );
    if (error instanceof oidc.ResponseBodyError || error instanceof oidc.AuthorizationResponseError)
      throw AppError.badRequest(`The identity provider refused the sign-in: ${describe(error)}`);
    if (error instanceof oidc.ClientError)
      throw AppError.badRequest(
        `The identity provider's answer failed a check (${describe(error)}); start the sign-in again`,
      );
    throw error;
  }
  const email = stringClaim(claims, "email");
  return {
    subject: String(claims.sub),
    email: email ? normalizeEmail(email) : null,
    emailVerified: claims.email_verified === true,
    firstName: (stringClaim(claims, "given_name") ?? "").trim().slice(0, 100),
    lastName: (stringClaim(claims, "family_name") ?? "").trim().slice(0, 100),
  };
}

export interface SsoCallback {
  /** The callback's query (state, code, iss, or error). */
  query: URLSearchParams;
  /** The state the browser's cookie holds, if any. */
  cookieState: string | null;
}

/**
 * Completes a sign-in from the IdP's callback: the account the IdP's subject is linked to, else
 * the account with its verified e-mail (linked now), else a new account; then just-in-time
 * memberships by e-mail domain, and a session. Refusals are audited like failed password
 * sign-ins and thrown as 4xx AppErrors that say what to do.
 */
export async function completeSsoSignIn(
  db: Db,
  runtime: McpRuntime,
  provider: SsoProvider,
  signup: SignupPolicy,
  origin: RequestOrigin,
  callback: SsoCallback,
): Promise<{ user: User; session: IssuedSession; created: boolean; returnTo: string }> {
  const state = callback.query.get("state");
  if (!state) throw AppError.badRequest("The callback carries no state; start the sign-in again");
  // Only the browser that started the sign-in holds its state: a forged or planted callback fails.
  if (callback.cookieState !== state)
    throw AppError.badRequest(
      "This sign-in was not started in this browser (its state does not match); start the sign-in again",
    );
  const flow = await takeFlow(db, runtime, state);
  const claims = await exchangeCode(provider, flow, state, callback.query);
  const issuer = (await provider.discover()).serverMetadata().issuer;

  const refuse = async (message: string, reason: string, userId: string | null) => {
    await recordAudit(
      db,
      { ...origin, actor: { type: "user", id: userId } },
      {
        org_id: null,
        action: "user.login_failed",
        target_type: "user",
        target_id: userId,
        metadata: { method: "sso", issuer, subject: claims.subject, email: claims.email, reason },
      },
    );
    return AppError.forbidden(message);
  };

  const [linked] = await db
    .select({ user_id: userIdentities.user_id })
    .from(userIdentities)
    .where(and(eq(userIdentities.issuer, issuer), eq(userIdentities.subject, claims.subject)))
    .limit(1);
  let existing: User | undefined;
  if (!linked) {
    if (claims.email === null)
      throw await refuse(
        `${provider.config.displayName} sent no e-mail address for this account, so it matches no account here`,
        "no_email",
        null,
      );
    [existing] = await db
      .select(publicUserColumns)
      .from(users)
      .where(eq(users.email, claims.email))
      .limit(1);
    if (!claims.emailVerified)
      throw await refuse(
        `${provider.config.displayName} has not verified ${claims.email}, so it cannot ${existing ? "sign in to the account with that address" : "open an account"}`,
        "email_not_verified",
        existing?.id ?? null,
      );
    const allowed = provider.config.allowedDomains;
    if (allowed.length > 0 && !allowed.includes(emailDomain(claims.email)))
      throw await refuse(
        `Sign-in with ${provider.config.displayName} is not open to ${emailDomain(claims.email)} addresses`,
        "domain_not_allowed",
        existing?.id ?? null,
      );
    // A new account follows the platform's sign-up policy like a password sign-up: an invitation
    // for the address, or an org admitting its domain by SSO, counts as being invited.
    if (!existing && (await platformHasUsers(db))) {
      const refusal = signupRefusal(
        signup,
        claims.email,
        await invitedBySso(db, claims.email, emailDomain(claims.email)),
      );
      if (refusal !== null) throw await refuse(refusal, "signup_refused", null);
    }
  }

  const accountId = linked?.user_id ?? existing?.id;
  if (accountId !== undefined && (await isUserDisabled(db, accountId)))
    throw await refuse(ACCOUNT_DISABLED, "disabled", accountId);

  const context = (userId: string) => ({ ...origin, actor: { type: "user" as const, id: userId } });
  try {
    return await db.transaction(async (tx) => {
      let user: User;
      let created = false;
      if (linked) {
        await tx
          .update(userIdentities)
          .set({ email: claims.email, last_sign_in_at: sql`now()` })
          .where(
            and(eq(userIdentities.issuer, issuer), eq(userIdentities.subject, claims.subject)),
          );
        const [row] = await tx
          .select(publicUserColumns)
          .from(users)
          .where(eq(users.id, linked.user_id))
          .limit(1);
        if (!row) throw AppError.notFound("User");
        user = row;
      } else {
        if (existing) {
          user = existing;
        } else {
          const first = await isFirstAccount(tx);
          const [row] = await tx
            .insert(users)
            .values({
              email: claims.email ?? "",
              password_hash: null,
              first_name: claims.firstName,
              last_name: claims.lastName,
              is_platform_admin: first,
            })
            .returning(publicUserColumns);
          if (!row) throw new Error("insert returned no user");
          user = row;
          created = true;
          await recordAudit(tx, context(user.id), {
            org_id: null,
            action: "user.register",
            target_type: "user",
            target_id: user.id,
            metadata: { method: "sso", issuer, ...(first ? { platform_admin: true } : {}) },
          });
        }
        await tx
          .insert(userIdentities)
          .values({ issuer, subject: claims.subject, user_id: user.id, email: claims.email });
        await recordAudit(tx, context(user.id), {
          org_id: null,
          action: "user.sso_link",
          target_type: "user",
          target_id: user.id,
          metadata: { issuer, subject: claims.subject, email: claims.email },
        });
      }
      if (claims.email !== null && claims.emailVerified)
        await joinOrgsByDomain(tx, context(user.id), user.id, emailDomain(claims.email));
      const session = await createSession(tx, user.id, origin);
      await recordAudit(tx, context(user.id), {
        org_id: null,
        action: "user.login",
        target_type: "user",
        target_id: user.id,
        metadata: { method: "sso", issuer },
      });
      return { user, session, created, returnTo: flow.return_to };
    });
  } catch (error) {
    // The account already has another identity at this IdP (the (user, issuer) index).
    if (isUniqueViolation(error))
      throw await refuse(
        `The account for ${claims.email ?? "this address"} is already linked to another ${provider.config.displayName} account`,
        "already_linked",
        existing?.id ?? null,
      );
    throw error;
  }
}

/** A pending invitation for the address, or an org that admits its domain by SSO. */
async function invitedBySso(db: Db, email: string, domain: string): Promise<boolean> {
  const [invitation] = await db
    .select({ id: invitations.id })
    .from(invitations)
    .where(
      and(
        eq(invitations.email, email),
        isNull(invitations.accepted_at),
        isNull(invitations.revoked_at),
        gt(invitations.expires_at, sql`now()`),
      ),
    )
    .limit(1);
  if (invitation) return true;
  const [rule] = await db
    .select({ org_id: orgSsoDomains.org_id })
    .from(orgSsoDomains)
    .where(eq(orgSsoDomains.domain, domain))
    .limit(1);
  return rule !== undefined;
}

/**
 * Just-in-time membership: every org with a rule for the domain that the user is not in yet
 * gains them with the rule's role. A member the org removed joins again at their next SSO
 * sign-in while the rule stands (README: SSO).
 */
async function joinOrgsByDomain(
  db: Db,
  context: RequestOrigin & { actor: { type: "user"; id: string } },
  userId: string,
  domain: string,
): Promise<void> {
  const rules = await db
    .select({ org_id: orgSsoDomains.org_id, role: orgSsoDomains.role })
    .from(orgSsoDomains)
    .where(eq(orgSsoDomains.domain, domain));
  if (rules.length === 0) return;
  const joined = await db
    .insert(memberships)
    .values(rules.map((rule) => ({ org_id: rule.org_id, user_id: userId, role: rule.role })))
    .onConflictDoNothing()
    .returning({ org_id: memberships.org_id, role: memberships.role });
  for (const membership of joined)
    await recordAudit(db, context, {
      org_id: membership.org_id,
      action: "member.add",
      target_type: "user",
      target_id: userId,
      metadata: { role: membership.role, via: "sso_domain", domain },
    });
}

/**
 * The SSO-only org that refuses this user's password sign-in, if any. One such membership is
 * enough: a session is the user's, not one org's, so a password session would open the SSO-only
 * org too.
 */
export async function ssoOnlyOrgOf(db: Db, userId: string): Promise<string | null> {
  const [row] = await db
    .select({ name: orgs.name })
    .from(memberships)
    .innerJoin(orgs, eq(orgs.id, memberships.org_id))
    .where(and(eq(memberships.user_id, userId), eq(orgs.sso_only, true)))
    .orderBy(orgs.name)
    .limit(1);
  return row?.name ?? null;
}

/** Started sign-ins past their lifetime (never called back). */
export async function pruneSsoFlows(db: Db, now = new Date()): Promise<number> {
  const pruned = await db
    .delete(ssoFlows)
    .where(lt(ssoFlows.expires_at, now))
    .returning({ state_hash: ssoFlows.state_hash });
  return pruned.length;
}
