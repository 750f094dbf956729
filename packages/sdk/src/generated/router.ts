/*
 * Generated from the server's AppRouter by packages/sdk/scripts/generate-router-types.ts; do not edit.
 * Regenerate with `pnpm openapi:generate` (which also refreshes the OpenAPI snapshot).
 */
import type { TRPCBuiltRouter, TRPCMutationProcedure, TRPCQueryProcedure } from "@trpc/server";

/** Any JSON value. */
export type JsonValue =
  string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** The body of an error as the tRPC transport carries it; `data.code` is the platform's error code. */
export type ErrorShape = {
  code:
    | -32603
    | -32600
    | -32001
    | -32003
    | -32004
    | -32009
    | -32013
    | -32015
    | -32700
    | -32002
    | -32005
    | -32008
    | -32012
    | -32022
    | -32028
    | -32029
    | -32099;
  message: string;
  data: {
    code:
      | "BAD_REQUEST"
      | "UNAUTHORIZED"
      | "FORBIDDEN"
      | "NOT_FOUND"
      | "CONFLICT"
      | "PAYLOAD_TOO_LARGE"
      | "RATE_LIMITED"
      | "SECRET_UNREADABLE"
      | "METHOD_NOT_ALLOWED"
      | "UNSUPPORTED_MEDIA_TYPE"
      | "UPSTREAM_ERROR"
      | "INTERNAL_SERVER_ERROR"
      | "SERVICE_UNAVAILABLE";
    httpStatus: number;
    issues:
      | {
          path: string;
          message: string;
        }[]
      | undefined;
    retry_after_seconds: number | undefined;
    run_id: string | undefined;
    policies:
      | {
          id: string;
          name: string;
        }[]
      | undefined;
    request_id: string | undefined;
  };
};

/** The platform's API as a tRPC router type: what `createTRPCClient` needs, and nothing of the server. */
export type PlatformRouter = TRPCBuiltRouter<
  { ctx: object; meta: object; errorShape: ErrorShape; transformer: false },
  {
    auth: {
      settings: TRPCQueryProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: Record<string, never> | undefined;
        output: {
          signup_mode: "open" | "closed" | "invite";
          signup_allowed_domains: string[];
          setup_required: boolean;
          email_enabled: boolean;
        };
      }>;
      register: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          email: string;
          password: string;
          password_confirm: string;
          first_name?: string | undefined;
          last_name?: string | undefined;
          invitation_token?: string | undefined;
        };
        output: {
          token: string;
          user: {
            id: string;
            email: string;
            first_name: string;
            last_name: string;
            is_platform_admin: boolean;
            email_verified: boolean;
            date_joined: string;
          };
        };
      }>;
      login: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          email: string;
          password: string;
        };
        output: {
          token: string;
          user: {
            id: string;
            email: string;
            first_name: string;
            last_name: string;
            is_platform_admin: boolean;
            email_verified: boolean;
            date_joined: string;
          };
        };
      }>;
      sso: TRPCQueryProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: Record<string, never> | undefined;
        output: {
          enabled: boolean;
          display_name: string | null;
          start_url: string | null;
        };
      }>;
      requestPasswordReset: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          email: string;
        };
        output: undefined;
      }>;
      resetPassword: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          token: string;
          password: string;
          password_confirm: string;
        };
        output: {
          token: string;
          user: {
            id: string;
            email: string;
            first_name: string;
            last_name: string;
            is_platform_admin: boolean;
            email_verified: boolean;
            date_joined: string;
          };
        };
      }>;
      requestEmailVerification: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: Record<string, never> | undefined;
        output: {
          email_delivery: "failed" | "sent" | "not_configured";
        };
      }>;
      verifyEmail: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          token: string;
        };
        output: {
          email: string;
        };
      }>;
      logout: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: Record<string, never> | undefined;
        output: undefined;
      }>;
      logoutAll: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: Record<string, never> | undefined;
        output: {
          sessions_ended: number;
        };
      }>;
      sessions: {
        list: TRPCQueryProcedure<{
          meta: object;
          errorShape: ErrorShape;
          input: Record<string, never> | undefined;
          output: {
            results: {
              id: string;
              current: boolean;
              created_at: string;
              last_seen_at: string;
              expires_at: string;
              ip: string | null;
              user_agent: string | null;
            }[];
          };
        }>;
        end: TRPCMutationProcedure<{
          meta: object;
          errorShape: ErrorShape;
          input: {
            id: string;
          };
          output: undefined;
        }>;
        endOthers: TRPCMutationProcedure<{
          meta: object;
          errorShape: ErrorShape;
          input: Record<string, never> | undefined;
          output: {
            sessions_ended: number;
          };
        }>;
      };
      changePassword: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          current_password: string;
          new_password: string;
          new_password_confirm: string;
        };
        output: {
          sessions_ended: number;
        };
      }>;
      me: TRPCQueryProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: Record<string, never> | undefined;
        output: {
          id: string;
          email: string;
          first_name: string;
          last_name: string;
          is_platform_admin: boolean;
          email_verified: boolean;
          date_joined: string;
        };
      }>;
    };
    orgs: {
      list: TRPCQueryProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          limit?: unknown;
          cursor?: string | undefined;
        };
        output: {
          results: {
            id: string;
            name: string;
            slug: string;
            role: "owner" | "admin" | "member" | "viewer";
            oauth_approver_role: "owner" | "admin" | "member" | "viewer";
            quarantine_new_tools: boolean;
            email_approvers: boolean;
            created_at: string;
            updated_at: string;
          }[];
          next_cursor: string | null;
        };
      }>;
      create: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          name: string;
          slug?: string | undefined;
        };
        output: {
          id: string;
          name: string;
          slug: string;
          role: "owner" | "admin" | "member" | "viewer";
          oauth_approver_role: "owner" | "admin" | "member" | "viewer";
          quarantine_new_tools: boolean;
          email_approvers: boolean;
          created_at: string;
          updated_at: string;
        };
      }>;
      get: TRPCQueryProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          org_id: string;
        };
        output: {
          id: string;
          name: string;
          slug: string;
          role: "owner" | "admin" | "member" | "viewer";
          oauth_approver_role: "owner" | "admin" | "member" | "viewer";
          quarantine_new_tools: boolean;
          email_approvers: boolean;
          created_at: string;
          updated_at: string;
        };
      }>;
      update: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          org_id: string;
          name?: string | undefined;
          slug?: string | undefined;
          oauth_approver_role?: "owner" | "admin" | "member" | undefined;
          quarantine_new_tools?: boolean | undefined;
          email_approvers?: boolean | undefined;
        };
        output: {
          id: string;
          name: string;
          slug: string;
          role: "owner" | "admin" | "member" | "viewer";
          oauth_approver_role: "owner" | "admin" | "member" | "viewer";
          quarantine_new_tools: boolean;
          email_approvers: boolean;
          created_at: string;
          updated_at: string;
        };
      }>;
      delete: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          org_id: string;
        };
        output: undefined;
      }>;
      sso: {
        get: TRPCQueryProcedure<{
          meta: object;
          errorShape: ErrorShape;
          input: {
            org_id: string;
          };
          output: {
            sso_only: boolean;
            domain_roles: {
              domain: string;
              role: "admin" | "member" | "viewer";
            }[];
          };
        }>;
        update: TRPCMutationProcedure<{
          meta: object;
          errorShape: ErrorShape;
          input: {
            org_id: string;
            sso_only?: boolean | undefined;
            domain_roles?:
              | {
                  domain: string;
                  role: "admin" | "member" | "viewer";
                }[]
              | undefined;
          };
          output: {
            sso_only: boolean;
            domain_roles: {
              domain: string;
              role: "admin" | "member" | "viewer";
            }[];
          };
        }>;
      };
      invitations: {
        list: TRPCQueryProcedure<{
          meta: object;
          errorShape: ErrorShape;
          input: {
            org_id: string;
            limit?: unknown;
            cursor?: string | undefined;
          };
          output: {
            results: {
              id: string;
              org_id: string;
              email: string;
              role: "owner" | "admin" | "member" | "viewer";
              status: "pending" | "expired" | "revoked" | "accepted";
              invited_by: string | null;
              expires_at: string;
              accepted_at: string | null;
              accepted_by: string | null;
              revoked_at: string | null;
              created_at: string;
            }[];
            next_cursor: string | null;
          };
        }>;
        revoke: TRPCMutationProcedure<{
          meta: object;
          errorShape: ErrorShape;
          input: {
            org_id: string;
            invitation_id: string;
          };
          output: undefined;
        }>;
      };
      members: {
        list: TRPCQueryProcedure<{
          meta: object;
          errorShape: ErrorShape;
          input: {
            org_id: string;
            limit?: unknown;
            cursor?: string | undefined;
          };
          output: {
            results: {
              user_id: string;
              email: string;
              first_name: string;
              last_name: string;
              role: "owner" | "admin" | "member" | "viewer";
              created_at: string;
              updated_at: string;
            }[];
            next_cursor: string | null;
          };
        }>;
        add: TRPCMutationProcedure<{
          meta: object;
          errorShape: ErrorShape;
          input: {
            org_id: string;
            email: string;
            role: "owner" | "admin" | "member" | "viewer";
          };
          output: {
            invitation: {
              id: string;
              org_id: string;
              email: string;
              role: "owner" | "admin" | "member" | "viewer";
              status: "pending" | "expired" | "revoked" | "accepted";
              invited_by: string | null;
              expires_at: string;
              accepted_at: string | null;
              accepted_by: string | null;
              revoked_at: string | null;
              created_at: string;
            };
            url: string;
            email_delivery: "failed" | "sent" | "not_configured";
          };
        }>;
        update: TRPCMutationProcedure<{
          meta: object;
          errorShape: ErrorShape;
          input: {
            org_id: string;
            role: "owner" | "admin" | "member" | "viewer";
            user_id: string;
          };
          output: {
            user_id: string;
            email: string;
            first_name: string;
            last_name: string;
            role: "owner" | "admin" | "member" | "viewer";
            created_at: string;
            updated_at: string;
          };
        }>;
        remove: TRPCMutationProcedure<{
          meta: object;
          errorShape: ErrorShape;
          input: {
            org_id: string;
            user_id: string;
          };
          output: undefined;
        }>;
      };
    };
    apiTokens: {
      list: TRPCQueryProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          org_id: string;
          limit?: unknown;
          cursor?: string | undefined;
        };
        output: {
          results: {
            id: string;
            org_id: string;
            name: string;
            role: "admin" | "member" | "viewer";
            prefix: string;
            created_by: string | null;
            created_at: string;
            expires_at: string | null;
            last_used_at: string | null;
            revoked_at: string | null;
          }[];
          next_cursor: string | null;
        };
      }>;
      create: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          org_id: string;
          name: string;
          role: "admin" | "member" | "viewer";
          expires_in_days?: number | undefined;
        };
        output: {
          id: string;
          org_id: string;
          name: string;
          role: "admin" | "member" | "viewer";
          prefix: string;
          created_by: string | null;
          created_at: string;
          expires_at: string | null;
          last_used_at: string | null;
          revoked_at: string | null;
          token: string;
        };
      }>;
      revoke: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          org_id: string;
          token_id: string;
        };
        output: undefined;
      }>;
    };
    invitations: {
      preview: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          token: string;
        };
        output: {
          org_name: string;
          email: string;
          role: "owner" | "admin" | "member" | "viewer";
          expires_at: string;
        };
      }>;
      accept: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          token: string;
        };
        output: {
          org_id: string;
          role: "owner" | "admin" | "member" | "viewer";
        };
      }>;
    };
    environments: {
      list: TRPCQueryProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          org_id: string;
          limit?: unknown;
          cursor?: string | undefined;
        };
        output: {
          results: {
            id: string;
            org_id: string;
            name: string;
            slug: string;
            description: string;
            created_at: string;
            updated_at: string;
          }[];
          next_cursor: string | null;
        };
      }>;
      create: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          org_id: string;
          name: string;
          slug?: string | undefined;
          description?: string | undefined;
        };
        output: {
          id: string;
          org_id: string;
          name: string;
          slug: string;
          description: string;
          created_at: string;
          updated_at: string;
        };
      }>;
      get: TRPCQueryProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          id: string;
        };
        output: {
          id: string;
          org_id: string;
          name: string;
          slug: string;
          description: string;
          created_at: string;
          updated_at: string;
        };
      }>;
      update: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          id: string;
          name?: string | undefined;
          slug?: string | undefined;
          description?: string | undefined;
        };
        output: {
          id: string;
          org_id: string;
          name: string;
          slug: string;
          description: string;
          created_at: string;
          updated_at: string;
        };
      }>;
      delete: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          id: string;
          confirm_policy_removal?: boolean | "true" | "false" | undefined;
        };
        output: undefined;
      }>;
    };
    connections: {
      list: TRPCQueryProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          org_id: string;
          limit?: unknown;
          cursor?: string | undefined;
          environment_id?: string | undefined;
        };
        output: {
          results: {
            id: string;
            org_id: string;
            environment_id: string | null;
            name: string;
            slug: string;
            description: string;
            transport: "streamable_http" | "sse" | "stdio";
            url: string | null;
            stdio_server: string | null;
            headers: Record<string, string>;
            has_secret: boolean;
            secret_keys: {
              headers: string[];
              env: string[];
            };
            auth: "none" | "headers" | "oauth";
            oauth: {
              credential_mode: "shared" | "per_user";
              client_registration: "dynamic" | "manual" | "metadata_document" | null;
              client_id: string | null;
              scope: string | null;
            } | null;
            needs_reauthorization: boolean;
            timeout_ms: number;
            allow_sampling: boolean;
            allow_elicitation: boolean;
            allow_tasks: boolean;
            status: "unknown" | "healthy" | "unhealthy";
            last_error: string | null;
            last_tested_at: string | null;
            last_synced_at: string | null;
            sync_interval_minutes: number | null;
            next_sync_at: string | null;
            server_info: Record<string, unknown> | null;
            created_at: string;
            updated_at: string;
          }[];
          next_cursor: string | null;
        };
      }>;
      stdioServers: TRPCQueryProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          org_id: string;
        };
        output: {
          results: {
            id: string;
            name: string;
            description: string;
            env: string[];
            sandboxed: boolean;
          }[];
        };
      }>;
      create: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          org_id: string;
          name: string;
          transport: "streamable_http" | "sse" | "stdio";
          slug?: string | undefined;
          description?: string | undefined;
          environment_id?: string | null | undefined;
          url?: string | null | undefined;
          stdio_server?: string | null | undefined;
          headers?: Record<string, string> | undefined;
          secret?:
            | {
                headers?: Record<string, string> | undefined;
                env?: Record<string, string> | undefined;
              }
            | null
            | undefined;
          auth?: "none" | "headers" | "oauth" | undefined;
          oauth?:
            | {
                credential_mode: "shared" | "per_user";
                client_id?: string | undefined;
                client_secret?: string | undefined;
                scope?: string | undefined;
              }
            | undefined;
          timeout_ms?: number | undefined;
          allow_sampling?: boolean | undefined;
          allow_elicitation?: boolean | undefined;
          allow_tasks?: boolean | undefined;
          sync_interval_minutes?: number | null | undefined;
        };
        output: {
          id: string;
          org_id: string;
          environment_id: string | null;
          name: string;
          slug: string;
          description: string;
          transport: "streamable_http" | "sse" | "stdio";
          url: string | null;
          stdio_server: string | null;
          headers: Record<string, string>;
          has_secret: boolean;
          secret_keys: {
            headers: string[];
            env: string[];
          };
          auth: "none" | "headers" | "oauth";
          oauth: {
            credential_mode: "shared" | "per_user";
            client_registration: "dynamic" | "manual" | "metadata_document" | null;
            client_id: string | null;
            scope: string | null;
          } | null;
          needs_reauthorization: boolean;
          timeout_ms: number;
          allow_sampling: boolean;
          allow_elicitation: boolean;
          allow_tasks: boolean;
          status: "unknown" | "healthy" | "unhealthy";
          last_error: string | null;
          last_tested_at: string | null;
          last_synced_at: string | null;
          sync_interval_minutes: number | null;
          next_sync_at: string | null;
          server_info: Record<string, unknown> | null;
          created_at: string;
          updated_at: string;
        };
      }>;
      get: TRPCQueryProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          id: string;
        };
        output: {
          id: string;
          org_id: string;
          environment_id: string | null;
          name: string;
          slug: string;
          description: string;
          transport: "streamable_http" | "sse" | "stdio";
          url: string | null;
          stdio_server: string | null;
          headers: Record<string, string>;
          has_secret: boolean;
          secret_keys: {
            headers: string[];
            env: string[];
          };
          auth: "none" | "headers" | "oauth";
          oauth: {
            credential_mode: "shared" | "per_user";
            client_registration: "dynamic" | "manual" | "metadata_document" | null;
            client_id: string | null;
            scope: string | null;
          } | null;
          needs_reauthorization: boolean;
          timeout_ms: number;
          allow_sampling: boolean;
          allow_elicitation: boolean;
          allow_tasks: boolean;
          status: "unknown" | "healthy" | "unhealthy";
          last_error: string | null;
          last_tested_at: string | null;
          last_synced_at: string | null;
          sync_interval_minutes: number | null;
          next_sync_at: string | null;
          server_info: Record<string, unknown> | null;
          created_at: string;
          updated_at: string;
        };
      }>;
      update: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          id: string;
          name?: string | undefined;
          slug?: string | undefined;
          description?: string | undefined;
          environment_id?: string | null | undefined;
          transport?: "streamable_http" | "sse" | "stdio" | undefined;
          url?: string | null | undefined;
          stdio_server?: string | null | undefined;
          headers?: Record<string, string> | undefined;
          secret?:
            | {
                headers?: Record<string, string> | undefined;
                env?: Record<string, string> | undefined;
              }
            | null
            | undefined;
          auth?: "none" | "headers" | "oauth" | undefined;
          oauth?:
            | {
                credential_mode: "shared" | "per_user";
                client_id?: string | undefined;
                client_secret?: string | undefined;
                scope?: string | undefined;
              }
            | undefined;
          timeout_ms?: number | undefined;
          allow_sampling?: boolean | undefined;
          allow_elicitation?: boolean | undefined;
          allow_tasks?: boolean | undefined;
          sync_interval_minutes?: number | null | undefined;
        };
        output: {
          id: string;
          org_id: string;
          environment_id: string | null;
          name: string;
          slug: string;
          description: string;
          transport: "streamable_http" | "sse" | "stdio";
          url: string | null;
          stdio_server: string | null;
          headers: Record<string, string>;
          has_secret: boolean;
          secret_keys: {
            headers: string[];
            env: string[];
          };
          auth: "none" | "headers" | "oauth";
          oauth: {
            credential_mode: "shared" | "per_user";
            client_registration: "dynamic" | "manual" | "metadata_document" | null;
            client_id: string | null;
            scope: string | null;
          } | null;
          needs_reauthorization: boolean;
          timeout_ms: number;
          allow_sampling: boolean;
          allow_elicitation: boolean;
          allow_tasks: boolean;
          status: "unknown" | "healthy" | "unhealthy";
          last_error: string | null;
          last_tested_at: string | null;
          last_synced_at: string | null;
          sync_interval_minutes: number | null;
          next_sync_at: string | null;
          server_info: Record<string, unknown> | null;
          created_at: string;
          updated_at: string;
          secret_cleared: boolean;
        };
      }>;
      delete: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          id: string;
        };
        output: undefined;
      }>;
      test: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          id: string;
        };
        output: {
          ok: boolean;
          latency_ms: number;
          server: {
            name: string;
            version: string;
          } | null;
          protocol_version: string | null;
          capabilities: Record<string, unknown> | null;
          error: string | null;
        };
      }>;
      oauthConnect: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          id: string;
          credential: "shared" | "per_user";
        };
        output: {
          authorization_url: string;
          expires_at: string;
        };
      }>;
      oauthDisconnect: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          id: string;
          credential: "shared" | "per_user";
        };
        output: undefined;
      }>;
      mine: TRPCQueryProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          org_id: string;
        };
        output: {
          results: {
            connection_id: string;
            name: string;
            url: string | null;
            credential_mode: "shared" | "per_user";
            status: "needs_reauthorization" | "connected" | "not_connected";
          }[];
        };
      }>;
      sync: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          id: string;
        };
        output: {
          created: number;
          changed: number;
          unchanged: number;
          stale: number;
          total: number;
        };
      }>;
    };
    tools: {
      list: TRPCQueryProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          org_id: string;
          limit?: unknown;
          cursor?: string | undefined;
          connection_id?: string | undefined;
          enabled?: boolean | "true" | "false" | undefined;
          stale?: boolean | "true" | "false" | undefined;
          quarantined?: boolean | "true" | "false" | undefined;
          q?: string | undefined;
        };
        output: {
          results: {
            id: string;
            org_id: string;
            connection_id: string;
            name: string;
            upstream_name: string;
            title: string | null;
            description: string;
            upstream_title: string | null;
            upstream_description: string;
            title_override: string | null;
            description_override: string | null;
            input_schema: Record<string, JsonValue>;
            output_schema: Record<string, JsonValue> | null;
            annotations: Record<string, JsonValue> | null;
            definition_hash: string | null;
            quarantine: "new" | "changed" | "rejected" | null;
            pending_definition: {
              title: string | null;
              description: string;
              input_schema: Record<string, JsonValue>;
              output_schema: Record<string, JsonValue> | null;
              annotations: Record<string, JsonValue> | null;
            } | null;
            pending_hash: string | null;
            enabled: boolean;
            stale: boolean;
            source: "manual" | "synced";
            created_at: string;
            updated_at: string;
          }[];
          next_cursor: string | null;
        };
      }>;
      create: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          org_id: string;
          connection_id: string;
          upstream_name: string;
          name?: string | undefined;
          title?: string | null | undefined;
          description?: string | undefined;
          input_schema?: Record<string, JsonValue> | undefined;
          output_schema?: Record<string, JsonValue> | null | undefined;
          annotations?: Record<string, JsonValue> | null | undefined;
          enabled?: boolean | undefined;
        };
        output: {
          id: string;
          org_id: string;
          connection_id: string;
          name: string;
          upstream_name: string;
          title: string | null;
          description: string;
          upstream_title: string | null;
          upstream_description: string;
          title_override: string | null;
          description_override: string | null;
          input_schema: Record<string, JsonValue>;
          output_schema: Record<string, JsonValue> | null;
          annotations: Record<string, JsonValue> | null;
          definition_hash: string | null;
          quarantine: "new" | "changed" | "rejected" | null;
          pending_definition: {
            title: string | null;
            description: string;
            input_schema: Record<string, JsonValue>;
            output_schema: Record<string, JsonValue> | null;
            annotations: Record<string, JsonValue> | null;
          } | null;
          pending_hash: string | null;
          enabled: boolean;
          stale: boolean;
          source: "manual" | "synced";
          created_at: string;
          updated_at: string;
        };
      }>;
      get: TRPCQueryProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          id: string;
        };
        output: {
          id: string;
          org_id: string;
          connection_id: string;
          name: string;
          upstream_name: string;
          title: string | null;
          description: string;
          upstream_title: string | null;
          upstream_description: string;
          title_override: string | null;
          description_override: string | null;
          input_schema: Record<string, JsonValue>;
          output_schema: Record<string, JsonValue> | null;
          annotations: Record<string, JsonValue> | null;
          definition_hash: string | null;
          quarantine: "new" | "changed" | "rejected" | null;
          pending_definition: {
            title: string | null;
            description: string;
            input_schema: Record<string, JsonValue>;
            output_schema: Record<string, JsonValue> | null;
            annotations: Record<string, JsonValue> | null;
          } | null;
          pending_hash: string | null;
          enabled: boolean;
          stale: boolean;
          source: "manual" | "synced";
          created_at: string;
          updated_at: string;
        };
      }>;
      update: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          id: string;
          name?: string | undefined;
          title?: string | null | undefined;
          description?: string | null | undefined;
          enabled?: boolean | undefined;
        };
        output: {
          id: string;
          org_id: string;
          connection_id: string;
          name: string;
          upstream_name: string;
          title: string | null;
          description: string;
          upstream_title: string | null;
          upstream_description: string;
          title_override: string | null;
          description_override: string | null;
          input_schema: Record<string, JsonValue>;
          output_schema: Record<string, JsonValue> | null;
          annotations: Record<string, JsonValue> | null;
          definition_hash: string | null;
          quarantine: "new" | "changed" | "rejected" | null;
          pending_definition: {
            title: string | null;
            description: string;
            input_schema: Record<string, JsonValue>;
            output_schema: Record<string, JsonValue> | null;
            annotations: Record<string, JsonValue> | null;
          } | null;
          pending_hash: string | null;
          enabled: boolean;
          stale: boolean;
          source: "manual" | "synced";
          created_at: string;
          updated_at: string;
        };
      }>;
      definitions: TRPCQueryProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          id: string;
          limit?: unknown;
          cursor?: string | undefined;
        };
        output: {
          results: {
            id: string;
            tool_id: string;
            hash: string;
            definition: {
              title: string | null;
              description: string;
              input_schema: Record<string, JsonValue>;
              output_schema: Record<string, JsonValue> | null;
              annotations: Record<string, JsonValue> | null;
            };
            source: "manual" | "sync" | "approval" | "config" | "backfill";
            actor_type: "agent" | "user" | "token" | "system";
            actor_id: string | null;
            created_at: string;
          }[];
          next_cursor: string | null;
          pending: {
            hash: string;
            definition: {
              title: string | null;
              description: string;
              input_schema: Record<string, JsonValue>;
              output_schema: Record<string, JsonValue> | null;
              annotations: Record<string, JsonValue> | null;
            };
            quarantine: "new" | "changed" | "rejected";
          } | null;
        };
      }>;
      access: TRPCQueryProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          id: string;
          limit?: unknown;
          cursor?: string | undefined;
        };
        output: {
          results: {
            decision: "allow" | "deny" | "require_approval" | "no_policy";
            policy: {
              id: string;
              name: string;
            } | null;
            input_dependent: boolean;
            reason: string;
            matched: {
              policy_id: string;
              name: string;
              effect: "allow" | "deny" | "require_approval";
            }[];
            agent_id: string;
            agent_name: string;
            agent_status: "active" | "disabled";
            environment_id: string | null;
          }[];
          next_cursor: string | null;
          people: {
            environment_id: string | null;
            roles: {
              decision: "allow" | "deny" | "require_approval" | "no_policy";
              policy: {
                id: string;
                name: string;
              } | null;
              input_dependent: boolean;
              reason: string;
              matched: {
                policy_id: string;
                name: string;
                effect: "allow" | "deny" | "require_approval";
              }[];
              role: "owner" | "admin" | "member" | "viewer";
            }[];
            policies: {
              id: string;
              name: string;
              effect: "allow" | "deny" | "require_approval";
              subject: "role" | "agent" | "user" | "everyone";
              user_id: string | null;
              min_role: "owner" | "admin" | "member" | "viewer" | null;
              environment_id: string | null;
              input_dependent: boolean;
            }[];
          };
        };
      }>;
      approveDefinition: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          id: string;
          hash: string;
        };
        output: {
          id: string;
          org_id: string;
          connection_id: string;
          name: string;
          upstream_name: string;
          title: string | null;
          description: string;
          upstream_title: string | null;
          upstream_description: string;
          title_override: string | null;
          description_override: string | null;
          input_schema: Record<string, JsonValue>;
          output_schema: Record<string, JsonValue> | null;
          annotations: Record<string, JsonValue> | null;
          definition_hash: string | null;
          quarantine: "new" | "changed" | "rejected" | null;
          pending_definition: {
            title: string | null;
            description: string;
            input_schema: Record<string, JsonValue>;
            output_schema: Record<string, JsonValue> | null;
            annotations: Record<string, JsonValue> | null;
          } | null;
          pending_hash: string | null;
          enabled: boolean;
          stale: boolean;
          source: "manual" | "synced";
          created_at: string;
          updated_at: string;
        };
      }>;
      rejectDefinition: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          id: string;
          hash: string;
        };
        output: {
          id: string;
          org_id: string;
          connection_id: string;
          name: string;
          upstream_name: string;
          title: string | null;
          description: string;
          upstream_title: string | null;
          upstream_description: string;
          title_override: string | null;
          description_override: string | null;
          input_schema: Record<string, JsonValue>;
          output_schema: Record<string, JsonValue> | null;
          annotations: Record<string, JsonValue> | null;
          definition_hash: string | null;
          quarantine: "new" | "changed" | "rejected" | null;
          pending_definition: {
            title: string | null;
            description: string;
            input_schema: Record<string, JsonValue>;
            output_schema: Record<string, JsonValue> | null;
            annotations: Record<string, JsonValue> | null;
          } | null;
          pending_hash: string | null;
          enabled: boolean;
          stale: boolean;
          source: "manual" | "synced";
          created_at: string;
          updated_at: string;
        };
      }>;
      delete: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          id: string;
        };
        output: undefined;
      }>;
      run: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          id: string;
          agent_id?: string | undefined;
          input?: Record<string, JsonValue> | undefined;
        };
        output: {
          id: string;
          org_id: string;
          kind: "tool" | "prompt" | "resource";
          tool_id: string | null;
          tool_name: string;
          agent_id: string | null;
          user_id: string | null;
          environment_id: string | null;
          status:
            | "denied"
            | "failed"
            | "timeout"
            | "running"
            | "awaiting_approval"
            | "succeeded"
            | "rate_limited";
          input: unknown;
          output: unknown;
          output_truncated: boolean;
          error: string | null;
          decision: Record<string, unknown> | null;
          triggered_by: Record<string, unknown>;
          started_at: string;
          finished_at: string | null;
          duration_ms: number | null;
          request_id: string | null;
          relayed:
            | {
                method: string;
                outcome: "answered" | "refused" | "failed" | "timeout";
                request_bytes: number;
                response_bytes: number;
                duration_ms: number;
                action?: "accept" | "decline" | "cancel" | undefined;
                reason?: string | undefined;
              }[]
            | null;
          trace_id: string | null;
          guardrails: {
            hooks: {
              policy_id: string;
              policy_name: string;
              stage: "pre_call" | "post_call";
              outcome: "allowed" | "rewrote" | "denied" | "failed_open" | "failed_closed";
              duration_ms: number;
              reason?: string | undefined;
            }[];
            redacted: {
              secrets: number;
              patterns: number;
            };
          } | null;
        };
      }>;
    };
    agents: {
      list: TRPCQueryProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          org_id: string;
          limit?: unknown;
          cursor?: string | undefined;
          environment_id?: string | undefined;
        };
        output: {
          results: {
            id: string;
            org_id: string;
            environment_id: string | null;
            name: string;
            description: string;
            status: "active" | "disabled";
            runs_as_user_id: string | null;
            mcp_url: string;
            mcp_client_config: Record<string, unknown>;
            created_at: string;
            updated_at: string;
          }[];
          next_cursor: string | null;
        };
      }>;
      create: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          org_id: string;
          name: string;
          description?: string | undefined;
          environment_id?: string | null | undefined;
          status?: "active" | "disabled" | undefined;
          runs_as_user_id?: string | null | undefined;
        };
        output: {
          id: string;
          org_id: string;
          environment_id: string | null;
          name: string;
          description: string;
          status: "active" | "disabled";
          runs_as_user_id: string | null;
          mcp_url: string;
          mcp_client_config: Record<string, unknown>;
          created_at: string;
          updated_at: string;
        };
      }>;
      get: TRPCQueryProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          id: string;
        };
        output: {
          id: string;
          org_id: string;
          environment_id: string | null;
          name: string;
          description: string;
          status: "active" | "disabled";
          runs_as_user_id: string | null;
          mcp_url: string;
          mcp_client_config: Record<string, unknown>;
          created_at: string;
          updated_at: string;
        };
      }>;
      update: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          id: string;
          name?: string | undefined;
          description?: string | undefined;
          environment_id?: string | null | undefined;
          status?: "active" | "disabled" | undefined;
          runs_as_user_id?: string | null | undefined;
        };
        output: {
          id: string;
          org_id: string;
          environment_id: string | null;
          name: string;
          description: string;
          status: "active" | "disabled";
          runs_as_user_id: string | null;
          mcp_url: string;
          mcp_client_config: Record<string, unknown>;
          created_at: string;
          updated_at: string;
        };
      }>;
      delete: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          id: string;
          confirm_policy_removal?: boolean | "true" | "false" | undefined;
        };
        output: undefined;
      }>;
      keys: {
        list: TRPCQueryProcedure<{
          meta: object;
          errorShape: ErrorShape;
          input: {
            id: string;
            limit?: unknown;
            cursor?: string | undefined;
          };
          output: {
            results: {
              id: string;
              agent_id: string;
              name: string;
              prefix: string;
              created_at: string;
              last_used_at: string | null;
              revoked_at: string | null;
            }[];
            next_cursor: string | null;
          };
        }>;
        create: TRPCMutationProcedure<{
          meta: object;
          errorShape: ErrorShape;
          input: {
            id: string;
            name?: string | undefined;
          };
          output: {
            id: string;
            agent_id: string;
            name: string;
            prefix: string;
            created_at: string;
            last_used_at: string | null;
            revoked_at: string | null;
            key: string;
          };
        }>;
        revoke: TRPCMutationProcedure<{
          meta: object;
          errorShape: ErrorShape;
          input: {
            id: string;
            key_id: string;
          };
          output: undefined;
        }>;
      };
      oauthClients: {
        list: TRPCQueryProcedure<{
          meta: object;
          errorShape: ErrorShape;
          input: {
            id: string;
            limit?: unknown;
            cursor?: string | undefined;
          };
          output: {
            results: {
              id: string;
              agent_id: string;
              client_id: string;
              client_name: string | null;
              client_uri: string | null;
              scope: string;
              approved_by: {
                id: string;
                email: string;
                first_name: string;
                last_name: string;
              };
              created_at: string;
              last_used_at: string | null;
            }[];
            next_cursor: string | null;
          };
        }>;
        revoke: TRPCMutationProcedure<{
          meta: object;
          errorShape: ErrorShape;
          input: {
            id: string;
            grant_id: string;
          };
          output: undefined;
        }>;
      };
    };
    policies: {
      list: TRPCQueryProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          org_id: string;
          limit?: unknown;
          cursor?: string | undefined;
          agent_id?: string | undefined;
          subject?: "role" | "agent" | "user" | "everyone" | undefined;
          user_id?: string | undefined;
          effect?: "allow" | "deny" | "require_approval" | undefined;
          target?: "tool" | "prompt" | "resource" | undefined;
          enabled?: boolean | "true" | "false" | undefined;
        };
        output: {
          results: {
            id: string;
            org_id: string;
            name: string;
            description: string;
            effect: "allow" | "deny" | "require_approval";
            subject: "role" | "agent" | "user" | "everyone";
            agent_id: string | null;
            user_id: string | null;
            min_role: "owner" | "admin" | "member" | "viewer" | null;
            target: "tool" | "prompt" | "resource";
            tool_pattern: string;
            environment_id: string | null;
            input_schema: Record<string, JsonValue> | null;
            rate_limit: {
              max_calls: number;
              per_seconds: number;
            } | null;
            pre_call_hook: {
              url: string;
              timeout_ms: number;
              fail_mode: "open" | "closed";
            } | null;
            post_call_hook: {
              url: string;
              timeout_ms: number;
              fail_mode: "open" | "closed";
            } | null;
            has_hook_secret: boolean;
            redact_patterns: string[];
            approver_role: "owner" | "admin" | "member" | "viewer" | null;
            approval_timeout_seconds: number | null;
            enabled: boolean;
            created_at: string;
            updated_at: string;
          }[];
          next_cursor: string | null;
        };
      }>;
      create: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          org_id: string;
          name: string;
          effect: "allow" | "deny" | "require_approval";
          tool_pattern: string;
          description?: string | undefined;
          subject?: "role" | "agent" | "user" | "everyone" | undefined;
          agent_id?: string | null | undefined;
          user_id?: string | null | undefined;
          min_role?: "owner" | "admin" | "member" | "viewer" | null | undefined;
          target?: "tool" | "prompt" | "resource" | undefined;
          environment_id?: string | null | undefined;
          input_schema?: Record<string, JsonValue> | null | undefined;
          rate_limit?:
            | {
                max_calls: number;
                per_seconds: number;
              }
            | null
            | undefined;
          pre_call_hook?:
            | {
                url: string;
                timeout_ms?: number | undefined;
                fail_mode?: "open" | "closed" | undefined;
              }
            | null
            | undefined;
          post_call_hook?:
            | {
                url: string;
                timeout_ms?: number | undefined;
                fail_mode?: "open" | "closed" | undefined;
              }
            | null
            | undefined;
          redact_patterns?: string[] | undefined;
          approver_role?: "owner" | "admin" | "member" | null | undefined;
          approval_timeout_seconds?: number | null | undefined;
          enabled?: boolean | undefined;
        };
        output: {
          id: string;
          org_id: string;
          name: string;
          description: string;
          effect: "allow" | "deny" | "require_approval";
          subject: "role" | "agent" | "user" | "everyone";
          agent_id: string | null;
          user_id: string | null;
          min_role: "owner" | "admin" | "member" | "viewer" | null;
          target: "tool" | "prompt" | "resource";
          tool_pattern: string;
          environment_id: string | null;
          input_schema: Record<string, JsonValue> | null;
          rate_limit: {
            max_calls: number;
            per_seconds: number;
          } | null;
          pre_call_hook: {
            url: string;
            timeout_ms: number;
            fail_mode: "open" | "closed";
          } | null;
          post_call_hook: {
            url: string;
            timeout_ms: number;
            fail_mode: "open" | "closed";
          } | null;
          has_hook_secret: boolean;
          redact_patterns: string[];
          approver_role: "owner" | "admin" | "member" | "viewer" | null;
          approval_timeout_seconds: number | null;
          enabled: boolean;
          created_at: string;
          updated_at: string;
          hook_secret?: string | undefined;
        };
      }>;
      evaluate: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          org_id: string;
          agent_id?: string | null | undefined;
          user_id?: string | undefined;
          role?: "owner" | "admin" | "member" | "viewer" | undefined;
          target?: "tool" | "prompt" | "resource" | undefined;
          tool_id?: string | undefined;
          name?: string | undefined;
          environment_id?: string | null | undefined;
          input?: Record<string, JsonValue> | undefined;
        };
        output: {
          allowed: boolean;
          reason: string;
          matched: {
            policy_id: string;
            name: string;
            effect: "allow" | "deny" | "require_approval";
          }[];
          allow_policies: string[];
          deny_policies: string[];
          approval_policies: string[];
          input_mismatches: {
            policy_id: string;
            name: string;
            issues: {
              path: (string | number)[];
              message: string;
            }[];
          }[];
          rate_limited_by: {
            policy_id: string;
            name: string;
            max_calls: number;
            per_seconds: number;
          }[];
          approval?:
            | {
                policy_id: string;
                name: string;
                approver_role: "owner" | "admin" | "member" | "viewer";
                timeout_seconds: number;
              }
            | undefined;
        };
      }>;
      whatIf: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          org_id: string;
          policy_id?: string | undefined;
          changes?:
            | {
                name?: string | undefined;
                description?: string | undefined;
                effect?: "allow" | "deny" | "require_approval" | undefined;
                subject?: "role" | "agent" | "user" | "everyone" | undefined;
                agent_id?: string | null | undefined;
                user_id?: string | null | undefined;
                min_role?: "owner" | "admin" | "member" | "viewer" | null | undefined;
                target?: "tool" | "prompt" | "resource" | undefined;
                tool_pattern?: string | undefined;
                environment_id?: string | null | undefined;
                input_schema?: Record<string, JsonValue> | null | undefined;
                rate_limit?:
                  | {
                      max_calls: number;
                      per_seconds: number;
                    }
                  | null
                  | undefined;
                pre_call_hook?:
                  | {
                      url: string;
                      timeout_ms?: number | undefined;
                      fail_mode?: "open" | "closed" | undefined;
                    }
                  | null
                  | undefined;
                post_call_hook?:
                  | {
                      url: string;
                      timeout_ms?: number | undefined;
                      fail_mode?: "open" | "closed" | undefined;
                    }
                  | null
                  | undefined;
                redact_patterns?: string[] | undefined;
                approver_role?: "owner" | "admin" | "member" | null | undefined;
                approval_timeout_seconds?: number | null | undefined;
                enabled?: boolean | undefined;
              }
            | undefined;
          delete?: boolean | undefined;
          runs?: number | undefined;
        };
        output: {
          runs_considered: number;
          oldest_run_at: string | null;
          unchanged: number;
          to_allowed: number;
          to_denied: number;
          to_approval: number;
          undetermined: number;
          groups: {
            kind: "tool" | "prompt" | "resource";
            tool_id: string | null;
            tool_name: string;
            agent_id: string | null;
            agent_name: string | null;
            runs: number;
            to_allowed: number;
            to_denied: number;
            to_approval: number;
          }[];
          examples: {
            run_id: string;
            started_at: string;
            kind: "tool" | "prompt" | "resource";
            tool_name: string;
            agent_id: string | null;
            before: {
              allowed: boolean;
              approval_required: boolean;
              reason: string;
            };
            after: {
              allowed: boolean;
              approval_required: boolean;
              reason: string;
            };
          }[];
        };
      }>;
      get: TRPCQueryProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          id: string;
        };
        output: {
          id: string;
          org_id: string;
          name: string;
          description: string;
          effect: "allow" | "deny" | "require_approval";
          subject: "role" | "agent" | "user" | "everyone";
          agent_id: string | null;
          user_id: string | null;
          min_role: "owner" | "admin" | "member" | "viewer" | null;
          target: "tool" | "prompt" | "resource";
          tool_pattern: string;
          environment_id: string | null;
          input_schema: Record<string, JsonValue> | null;
          rate_limit: {
            max_calls: number;
            per_seconds: number;
          } | null;
          pre_call_hook: {
            url: string;
            timeout_ms: number;
            fail_mode: "open" | "closed";
          } | null;
          post_call_hook: {
            url: string;
            timeout_ms: number;
            fail_mode: "open" | "closed";
          } | null;
          has_hook_secret: boolean;
          redact_patterns: string[];
          approver_role: "owner" | "admin" | "member" | "viewer" | null;
          approval_timeout_seconds: number | null;
          enabled: boolean;
          created_at: string;
          updated_at: string;
        };
      }>;
      update: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          id: string;
          name?: string | undefined;
          description?: string | undefined;
          effect?: "allow" | "deny" | "require_approval" | undefined;
          subject?: "role" | "agent" | "user" | "everyone" | undefined;
          agent_id?: string | null | undefined;
          user_id?: string | null | undefined;
          min_role?: "owner" | "admin" | "member" | "viewer" | null | undefined;
          target?: "tool" | "prompt" | "resource" | undefined;
          tool_pattern?: string | undefined;
          environment_id?: string | null | undefined;
          input_schema?: Record<string, JsonValue> | null | undefined;
          rate_limit?:
            | {
                max_calls: number;
                per_seconds: number;
              }
            | null
            | undefined;
          pre_call_hook?:
            | {
                url: string;
                timeout_ms?: number | undefined;
                fail_mode?: "open" | "closed" | undefined;
              }
            | null
            | undefined;
          post_call_hook?:
            | {
                url: string;
                timeout_ms?: number | undefined;
                fail_mode?: "open" | "closed" | undefined;
              }
            | null
            | undefined;
          redact_patterns?: string[] | undefined;
          approver_role?: "owner" | "admin" | "member" | null | undefined;
          approval_timeout_seconds?: number | null | undefined;
          enabled?: boolean | undefined;
        };
        output: {
          id: string;
          org_id: string;
          name: string;
          description: string;
          effect: "allow" | "deny" | "require_approval";
          subject: "role" | "agent" | "user" | "everyone";
          agent_id: string | null;
          user_id: string | null;
          min_role: "owner" | "admin" | "member" | "viewer" | null;
          target: "tool" | "prompt" | "resource";
          tool_pattern: string;
          environment_id: string | null;
          input_schema: Record<string, JsonValue> | null;
          rate_limit: {
            max_calls: number;
            per_seconds: number;
          } | null;
          pre_call_hook: {
            url: string;
            timeout_ms: number;
            fail_mode: "open" | "closed";
          } | null;
          post_call_hook: {
            url: string;
            timeout_ms: number;
            fail_mode: "open" | "closed";
          } | null;
          has_hook_secret: boolean;
          redact_patterns: string[];
          approver_role: "owner" | "admin" | "member" | "viewer" | null;
          approval_timeout_seconds: number | null;
          enabled: boolean;
          created_at: string;
          updated_at: string;
          hook_secret?: string | undefined;
        };
      }>;
      rotateHookSecret: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          id: string;
        };
        output: {
          id: string;
          org_id: string;
          name: string;
          description: string;
          effect: "allow" | "deny" | "require_approval";
          subject: "role" | "agent" | "user" | "everyone";
          agent_id: string | null;
          user_id: string | null;
          min_role: "owner" | "admin" | "member" | "viewer" | null;
          target: "tool" | "prompt" | "resource";
          tool_pattern: string;
          environment_id: string | null;
          input_schema: Record<string, JsonValue> | null;
          rate_limit: {
            max_calls: number;
            per_seconds: number;
          } | null;
          pre_call_hook: {
            url: string;
            timeout_ms: number;
            fail_mode: "open" | "closed";
          } | null;
          post_call_hook: {
            url: string;
            timeout_ms: number;
            fail_mode: "open" | "closed";
          } | null;
          has_hook_secret: boolean;
          redact_patterns: string[];
          approver_role: "owner" | "admin" | "member" | "viewer" | null;
          approval_timeout_seconds: number | null;
          enabled: boolean;
          created_at: string;
          updated_at: string;
          hook_secret?: string | undefined;
        };
      }>;
      delete: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          id: string;
        };
        output: undefined;
      }>;
    };
    approvals: {
      list: TRPCQueryProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          org_id: string;
          limit?: unknown;
          cursor?: string | undefined;
          status?: "denied" | "pending" | "approved" | "expired" | "cancelled" | undefined;
          run_id?: string | undefined;
        };
        output: {
          results: {
            id: string;
            org_id: string;
            run_id: string;
            run_status:
              | "denied"
              | "failed"
              | "timeout"
              | "running"
              | "awaiting_approval"
              | "succeeded"
              | "rate_limited";
            status: "denied" | "pending" | "approved" | "expired" | "cancelled";
            mode: "held" | "detached";
            policy_id: string | null;
            policy_name: string;
            approver_role: "owner" | "admin" | "member" | "viewer";
            tool_id: string | null;
            tool_name: string;
            agent_id: string | null;
            agent_name: string | null;
            user_id: string | null;
            input: unknown;
            expires_at: string;
            decided_at: string | null;
            decided_by: string | null;
            comment: string | null;
            approvers_notified_at: string | null;
            created_at: string;
          }[];
          next_cursor: string | null;
        };
      }>;
      get: TRPCQueryProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          id: string;
        };
        output: {
          id: string;
          org_id: string;
          run_id: string;
          run_status:
            | "denied"
            | "failed"
            | "timeout"
            | "running"
            | "awaiting_approval"
            | "succeeded"
            | "rate_limited";
          status: "denied" | "pending" | "approved" | "expired" | "cancelled";
          mode: "held" | "detached";
          policy_id: string | null;
          policy_name: string;
          approver_role: "owner" | "admin" | "member" | "viewer";
          tool_id: string | null;
          tool_name: string;
          agent_id: string | null;
          agent_name: string | null;
          user_id: string | null;
          input: unknown;
          expires_at: string;
          decided_at: string | null;
          decided_by: string | null;
          comment: string | null;
          approvers_notified_at: string | null;
          created_at: string;
        };
      }>;
      decide: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          id: string;
          decision: "deny" | "approve";
          comment?: string | undefined;
        };
        output: {
          id: string;
          org_id: string;
          run_id: string;
          run_status:
            | "denied"
            | "failed"
            | "timeout"
            | "running"
            | "awaiting_approval"
            | "succeeded"
            | "rate_limited";
          status: "denied" | "pending" | "approved" | "expired" | "cancelled";
          mode: "held" | "detached";
          policy_id: string | null;
          policy_name: string;
          approver_role: "owner" | "admin" | "member" | "viewer";
          tool_id: string | null;
          tool_name: string;
          agent_id: string | null;
          agent_name: string | null;
          user_id: string | null;
          input: unknown;
          expires_at: string;
          decided_at: string | null;
          decided_by: string | null;
          comment: string | null;
          approvers_notified_at: string | null;
          created_at: string;
        };
      }>;
    };
    runs: {
      list: TRPCQueryProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          org_id: string;
          limit?: unknown;
          cursor?: string | undefined;
          status?:
            | "denied"
            | "failed"
            | "timeout"
            | "running"
            | "awaiting_approval"
            | "succeeded"
            | "rate_limited"
            | undefined;
          kind?: "tool" | "prompt" | "resource" | undefined;
          agent_id?: string | undefined;
          tool_id?: string | undefined;
          since?: string | undefined;
          until?: string | undefined;
        };
        output: {
          results: {
            id: string;
            org_id: string;
            kind: "tool" | "prompt" | "resource";
            tool_id: string | null;
            tool_name: string;
            agent_id: string | null;
            user_id: string | null;
            environment_id: string | null;
            status:
              | "denied"
              | "failed"
              | "timeout"
              | "running"
              | "awaiting_approval"
              | "succeeded"
              | "rate_limited";
            input: unknown;
            output: unknown;
            output_truncated: boolean;
            error: string | null;
            decision: Record<string, unknown> | null;
            triggered_by: Record<string, unknown>;
            started_at: string;
            finished_at: string | null;
            duration_ms: number | null;
            request_id: string | null;
            relayed:
              | {
                  method: string;
                  outcome: "answered" | "refused" | "failed" | "timeout";
                  request_bytes: number;
                  response_bytes: number;
                  duration_ms: number;
                  action?: "accept" | "decline" | "cancel" | undefined;
                  reason?: string | undefined;
                }[]
              | null;
            trace_id: string | null;
            guardrails: {
              hooks: {
                policy_id: string;
                policy_name: string;
                stage: "pre_call" | "post_call";
                outcome: "allowed" | "rewrote" | "denied" | "failed_open" | "failed_closed";
                duration_ms: number;
                reason?: string | undefined;
              }[];
              redacted: {
                secrets: number;
                patterns: number;
              };
            } | null;
          }[];
          next_cursor: string | null;
        };
      }>;
      stats: TRPCQueryProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          org_id: string;
          since?: string | undefined;
          until?: string | undefined;
          bucket?: "hour" | "minute" | "day" | undefined;
          tool_id?: string | undefined;
        };
        output: {
          since: string;
          until: string;
          bucket: "hour" | "minute" | "day";
          totals: {
            runs: number;
            succeeded: number;
            failed: number;
            denied: number;
            error_rate: number;
            p50_ms: number | null;
            p95_ms: number | null;
          };
          series: {
            bucket_start: string;
            running: number;
            succeeded: number;
            failed: number;
            denied: number;
            timeout: number;
          }[];
          tools: {
            runs: number;
            succeeded: number;
            failed: number;
            denied: number;
            error_rate: number;
            p50_ms: number | null;
            p95_ms: number | null;
            tool_id: string | null;
            tool_name: string;
          }[];
          agents: {
            runs: number;
            succeeded: number;
            failed: number;
            denied: number;
            error_rate: number;
            p50_ms: number | null;
            p95_ms: number | null;
            agent_id: string | null;
            agent_name: string | null;
          }[];
        };
      }>;
      get: TRPCQueryProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          id: string;
        };
        output: {
          id: string;
          org_id: string;
          kind: "tool" | "prompt" | "resource";
          tool_id: string | null;
          tool_name: string;
          agent_id: string | null;
          user_id: string | null;
          environment_id: string | null;
          status:
            | "denied"
            | "failed"
            | "timeout"
            | "running"
            | "awaiting_approval"
            | "succeeded"
            | "rate_limited";
          input: unknown;
          output: unknown;
          output_truncated: boolean;
          error: string | null;
          decision: Record<string, unknown> | null;
          triggered_by: Record<string, unknown>;
          started_at: string;
          finished_at: string | null;
          duration_ms: number | null;
          request_id: string | null;
          relayed:
            | {
                method: string;
                outcome: "answered" | "refused" | "failed" | "timeout";
                request_bytes: number;
                response_bytes: number;
                duration_ms: number;
                action?: "accept" | "decline" | "cancel" | undefined;
                reason?: string | undefined;
              }[]
            | null;
          trace_id: string | null;
          guardrails: {
            hooks: {
              policy_id: string;
              policy_name: string;
              stage: "pre_call" | "post_call";
              outcome: "allowed" | "rewrote" | "denied" | "failed_open" | "failed_closed";
              duration_ms: number;
              reason?: string | undefined;
            }[];
            redacted: {
              secrets: number;
              patterns: number;
            };
          } | null;
        };
      }>;
    };
    audit: {
      list: TRPCQueryProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          org_id: string;
          limit?: unknown;
          cursor?: string | undefined;
          action?: string | undefined;
          actor_id?: string | undefined;
          target_type?: string | undefined;
          target_id?: string | undefined;
          since?: string | undefined;
        };
        output: {
          results: {
            id: string;
            org_id: string | null;
            actor_type: "agent" | "user" | "token" | "system";
            actor_id: string | null;
            action: string;
            target_type: string | null;
            target_id: string | null;
            metadata: Record<string, unknown>;
            ip: string | null;
            user_agent: string | null;
            created_at: string;
            chain_seq: number | null;
            prev_hash: string | null;
            hash: string | null;
          }[];
          next_cursor: string | null;
        };
      }>;
      actions: TRPCQueryProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          org_id: string;
        };
        output: {
          actions: string[];
        };
      }>;
      verify: TRPCQueryProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          org_id: string;
        };
        output: {
          valid: boolean;
          events: number;
          first_seq: number | null;
          last_seq: number | null;
          head_hash: string | null;
          first_broken: {
            chain_seq: number;
            event_id: string | null;
            reason: string;
          } | null;
        };
      }>;
      webhook: TRPCQueryProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          org_id: string;
        };
        output: {
          org_id: string;
          url: string;
          enabled: boolean;
          cursor_seq: number;
          last_delivered_event_id: string | null;
          last_delivered_at: string | null;
          last_error: string | null;
          last_error_at: string | null;
          consecutive_failures: number;
          next_attempt_at: string;
          created_at: string;
          updated_at: string;
        } | null;
      }>;
      createWebhook: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          org_id: string;
          url: string;
          enabled?: boolean | undefined;
        };
        output: {
          webhook: {
            org_id: string;
            url: string;
            enabled: boolean;
            cursor_seq: number;
            last_delivered_event_id: string | null;
            last_delivered_at: string | null;
            last_error: string | null;
            last_error_at: string | null;
            consecutive_failures: number;
            next_attempt_at: string;
            created_at: string;
            updated_at: string;
          };
          secret: string;
        };
      }>;
      updateWebhook: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          org_id: string;
          url?: string | undefined;
          enabled?: boolean | undefined;
        };
        output: {
          org_id: string;
          url: string;
          enabled: boolean;
          cursor_seq: number;
          last_delivered_event_id: string | null;
          last_delivered_at: string | null;
          last_error: string | null;
          last_error_at: string | null;
          consecutive_failures: number;
          next_attempt_at: string;
          created_at: string;
          updated_at: string;
        };
      }>;
      rotateWebhookSecret: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          org_id: string;
        };
        output: {
          webhook: {
            org_id: string;
            url: string;
            enabled: boolean;
            cursor_seq: number;
            last_delivered_event_id: string | null;
            last_delivered_at: string | null;
            last_error: string | null;
            last_error_at: string | null;
            consecutive_failures: number;
            next_attempt_at: string;
            created_at: string;
            updated_at: string;
          };
          secret: string;
        };
      }>;
      deleteWebhook: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          org_id: string;
        };
        output: undefined;
      }>;
    };
    oauth: {
      authorizations: {
        get: TRPCQueryProcedure<{
          meta: object;
          errorShape: ErrorShape;
          input: {
            id: string;
          };
          output: {
            id: string;
            client: {
              client_id: string;
              kind: "metadata_document" | "registered";
              name: string | null;
              uri: string | null;
              logo_uri: string | null;
            };
            redirect_uri: string;
            agent: {
              id: string;
              name: string;
              description: string;
            };
            org: {
              id: string;
              name: string;
            };
            scope: string;
            resource: string;
            can_approve: boolean;
            approver_role: "owner" | "admin" | "member" | "viewer";
            your_role: "owner" | "admin" | "member" | "viewer";
            expires_at: string;
          };
        }>;
        decide: TRPCMutationProcedure<{
          meta: object;
          errorShape: ErrorShape;
          input: {
            id: string;
            approve: boolean;
          };
          output: {
            redirect_to: string;
          };
        }>;
      };
    };
    platform: {
      orgs: TRPCQueryProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          limit?: unknown;
          cursor?: string | undefined;
        };
        output: {
          results: {
            id: string;
            name: string;
            slug: string;
            member_count: number;
            created_at: string;
          }[];
          next_cursor: string | null;
        };
      }>;
      users: {
        list: TRPCQueryProcedure<{
          meta: object;
          errorShape: ErrorShape;
          input: {
            limit?: unknown;
            cursor?: string | undefined;
          };
          output: {
            results: {
              id: string;
              email: string;
              first_name: string;
              last_name: string;
              is_platform_admin: boolean;
              email_verified_at: string | null;
              disabled: boolean;
              disabled_at: string | null;
              last_sign_in_at: string | null;
              date_joined: string;
            }[];
            next_cursor: string | null;
          };
        }>;
        disable: TRPCMutationProcedure<{
          meta: object;
          errorShape: ErrorShape;
          input: {
            user_id: string;
          };
          output: {
            id: string;
            email: string;
            first_name: string;
            last_name: string;
            is_platform_admin: boolean;
            email_verified_at: string | null;
            disabled: boolean;
            disabled_at: string | null;
            last_sign_in_at: string | null;
            date_joined: string;
          };
        }>;
        enable: TRPCMutationProcedure<{
          meta: object;
          errorShape: ErrorShape;
          input: {
            user_id: string;
          };
          output: {
            id: string;
            email: string;
            first_name: string;
            last_name: string;
            is_platform_admin: boolean;
            email_verified_at: string | null;
            disabled: boolean;
            disabled_at: string | null;
            last_sign_in_at: string | null;
            date_joined: string;
          };
        }>;
      };
      auditEvents: TRPCQueryProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          limit?: unknown;
          cursor?: string | undefined;
          action?: string | undefined;
          actor_id?: string | undefined;
          target_type?: string | undefined;
          target_id?: string | undefined;
          since?: string | undefined;
        };
        output: {
          results: {
            id: string;
            org_id: string | null;
            actor_type: "agent" | "user" | "token" | "system";
            actor_id: string | null;
            action: string;
            target_type: string | null;
            target_id: string | null;
            metadata: Record<string, unknown>;
            ip: string | null;
            user_agent: string | null;
            created_at: string;
            chain_seq: number | null;
            prev_hash: string | null;
            hash: string | null;
          }[];
          next_cursor: string | null;
        };
      }>;
    };
    config: {
      exportDocument: TRPCQueryProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          org_id: string;
        };
        output: {
          document: string;
        };
      }>;
      applyDocument: TRPCMutationProcedure<{
        meta: object;
        errorShape: ErrorShape;
        input: {
          org_id: string;
          document: string;
          secrets?: Record<string, string> | undefined;
          dry_run?: boolean | undefined;
          prune?: boolean | undefined;
        };
        output: {
          dry_run: boolean;
          changes: {
            resource: "tool" | "agent" | "connection" | "policy" | "environment" | "settings";
            name: string;
            action: "create" | "update" | "delete";
            fields: string[];
          }[];
          not_applied: {
            path: string;
            reason: string;
          }[];
          hook_secrets: {
            policy: string;
            hook_secret: string;
          }[];
        };
      }>;
    };
  }
>;
