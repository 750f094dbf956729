/** Who is acting and from where; every mutating service takes it so the audit trail is complete. */
export interface Actor {
  type: "user" | "agent" | "system" | "token";
  id: string | null;
  /**
   * An API token's name, recorded on its audit events as `token_name`: the token may be revoked
   * and forgotten long before the event is read.
   */
  name?: string;
}

export interface RequestOrigin {
  ip: string | null;
  user_agent: string | null;
  /** The HTTP request's id (`x-request-id`), which runs record so they can be found in the logs. */
  request_id?: string | null;
}

export interface ActionContext extends RequestOrigin {
  actor: Actor;
  /**
   * The person an agent acts for: the user who approved the OAuth client whose token made the
   * call. Recorded on runs and audit events as `acting_user`; absent for agent keys.
   */
  acting_user?: string;
}

export const SYSTEM_CONTEXT: ActionContext = {
  actor: { type: "system", id: null },
  ip: null,
  user_agent: null,
};
