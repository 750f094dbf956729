import { randomBytes } from "node:crypto";
import { and, eq, isNotNull, lt, sql } from "drizzle-orm";
import type {
  JSONRPCErrorResponse,
  JSONRPCRequest,
  JSONRPCResultResponse,
  Result,
} from "@modelcontextprotocol/sdk/types.js";
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import type { ChangeFeed } from "../db/changes";
import { RELAY_CHANNEL } from "../db/changes";
import type { Db } from "../db/client";
import { relayRequests, type JsonObject } from "../db/schema";

/*
 * Requests an upstream server makes of the calling client during a call (sampling, elicitation,
 * roots, ping), relayed across replicas without sticky sessions.
 *
 * The replica running the call (the owner) writes a row under an id of its choosing, sends the
 * request on the call's event stream under that id and waits. The client answers with a POST
 * that the load balancer may send to any replica. That replica takes the answer only for the
 * agent (and MCP session) the request was sent to: it stores the answer in the row and notifies
 * RELAY_CHANNEL. The owner hears the notification on its change-feed connection and resumes the
 * upstream request. When the answer reaches the owner itself, it is handed over in memory.
 *
 * The id is 144 random bits: knowing it is what lets a client answer, so it cannot be guessed,
 * and even a leaked id is useless to another agent (or another session of the same agent).
 * NOTIFY payloads are limited to 8000 bytes: a small answer travels in the notification, a large
 * one is read from the row. A notification lost with the listening connection is made up for by
 * reading every awaited row again when the feed reconnects.
 */

export const RELAY_ID_PREFIX = "relay-";
/** Room left in a NOTIFY payload (8000 bytes) for the envelope around an inline answer. */
const INLINE_ANSWER_BYTES = 7_800;

/** Where the calling client can be reached: its agent, its session and its call's stream. */
export interface RelayTarget {
  orgId: string;
  agentId: string;
  /** The MCP session of the call; null for a session-less call. */
  sessionId: string | null;
  /** Writes a JSON-RPC request on the call's response stream; rejects when the client is gone. */
  send: (request: JSONRPCRequest) => Promise<void>;
}

/** The client's JSON-RPC answer: a result, or its error. */
export type RelayAnswer =
  { result: Result } | { error: { code: number; message: string; data?: unknown } };

interface Awaiting {
  agentId: string;
  sessionId: string | null;
  settle: (answer: JsonObject) => void;
}

function isAnswer(value: unknown): value is RelayAnswer {
  if (typeof value !== "object" || value === null) return false;
  if ("result" in value) return typeof value.result === "object" && value.result !== null;
  if (!("error" in value)) return false;
  const { error } = value;
  return (
    typeof error === "object" &&
    error !== null &&
    typeof (error as { code?: unknown }).code === "number" &&
    typeof (error as { message?: unknown }).message === "string"
  );
}

export class RelayHub {
  private readonly awaiting = new Map<string, Awaiting>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly db: Db,
    feed: ChangeFeed,
  ) {
    this.unsubscribe = feed.subscribe({
      changed: () => undefined,
      reset: () => {
        void this.recheck();
      },
      relayed: (payload) => {
        this.notified(payload);
      },
    });
  }

  /**
   * Sends `request` to the client and resolves with its answer; an error answer rejects with it
   * as an McpError. Rejects when `signal` aborts (the upstream call ended or was cancelled), when
   * the client cannot be written to, or after `ttlMs`.
   */
  async ask(
    target: RelayTarget,
    request: { method: string; params?: Record<string, unknown> | undefined },
    signal: AbortSignal,
    ttlMs: number,
  ): Promise<Result> {
    signal.throwIfAborted();
    const id = `${RELAY_ID_PREFIX}${randomBytes(18).toString("base64url")}`;
    await this.db.insert(relayRequests).values({
      id,
      org_id: target.orgId,
      agent_id: target.agentId,
      session_id: target.sessionId,
      method: request.method,
      expires_at: new Date(Date.now() + ttlMs),
    });
    try {
      const answer: unknown = await new Promise<JsonObject>((resolve, reject) => {
        const timer = setTimeout(() => {
          stop(
            new McpError(
              ErrorCode.RequestTimeout,
              `The client did not answer ${request.method} within ${ttlMs} ms`,
            ),
          );
        }, ttlMs);
        const onAbort = (): void => {
          stop(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)));
        };
        const stop = (error: Error | null, answer?: JsonObject): void => {
          clearTimeout(timer);
          signal.removeEventListener("abort", onAbort);
          this.awaiting.delete(id);
          if (error) reject(error);
          else if (answer) resolve(answer);
        };
        signal.addEventListener("abort", onAbort, { once: true });
        this.awaiting.set(id, {
          agentId: target.agentId,
          sessionId: target.sessionId,
          settle: (answer) => {
            stop(null, answer);
          },
        });
        target
          .send({
            jsonrpc: "2.0",
            id,
            method: request.method,
            ...(request.params ? { params: request.params } : {}),
          })
          .catch((error: unknown) => {
            stop(error instanceof Error ? error : new Error(String(error)));
          });
      });
      if (!isAnswer(answer))
        throw new McpError(
          ErrorCode.InternalError,
          "The client's answer is not a JSON-RPC response",
        );
      if ("error" in answer) {
        const { code, message, data } = answer.error;
        throw new McpError(code, message, data);
      }
      return answer.result;
    } finally {
      // Best effort: a row left behind expires and is swept by the maintenance job.
      await this.db
        .delete(relayRequests)
        .where(eq(relayRequests.id, id))
        .catch(() => undefined);
    }
  }

  /**
   * A JSON-RPC response a client POSTed. Taken when it answers a request relayed to this agent
   * (and session): true then, false for anything else (an unknown or expired id, another agent's
   * request), which is dropped without saying which.
   */
  async answer(
    agentId: string,
    sessionId: string | null,
    response: JSONRPCResultResponse | JSONRPCErrorResponse,
  ): Promise<boolean> {
    const { id } = response;
    if (typeof id !== "string" || !id.startsWith(RELAY_ID_PREFIX)) return false;
    const answer = (
      "error" in response ? { error: response.error } : { result: response.result }
    ) as JsonObject;
    const local = this.awaiting.get(id);
    if (local) {
      if (local.agentId !== agentId || local.sessionId !== sessionId) return false;
      local.settle(answer);
      return true;
    }
    const text = JSON.stringify(answer);
    const payload =
      Buffer.byteLength(text) <= INLINE_ANSWER_BYTES
        ? `{"id":${JSON.stringify(id)},"answer":${text}}`
        : JSON.stringify({ id });
    // One statement: the answer is stored only for its own agent and session, and the owner is
    // notified only when it was (the notification is sent at commit).
    const result = await this.db.execute(sql`
      with answered as (
        update ${relayRequests} set answer = ${text}::jsonb, answered_at = now()
        where ${relayRequests.id} = ${id} and ${relayRequests.agent_id} = ${agentId}
          and ${relayRequests.session_id} is not distinct from ${sessionId}
          and ${relayRequests.answered_at} is null and ${relayRequests.expires_at} > now()
        returning ${relayRequests.id}
      )
      select pg_notify(${RELAY_CHANNEL}, ${payload}), answered.id from answered
    `);
    // Both drivers answer with `{ rows }`.
    return (result as { rows: unknown[] }).rows.length > 0;
  }

  private notified(payload: string): void {
    let message: { id?: unknown; answer?: unknown };
    try {
      message = JSON.parse(payload) as typeof message;
    } catch {
      return;
    }
    if (typeof message.id !== "string") return;
    const waiting = this.awaiting.get(message.id);
    if (!waiting) return;
    if (message.answer !== undefined) {
      waiting.settle(message.answer as JsonObject);
      return;
    }
    void this.fetch([message.id]);
  }

  /** After the feed reconnected: answers that arrived while nobody listened are read. */
  private async recheck(): Promise<void> {
    if (this.awaiting.size > 0) await this.fetch([...this.awaiting.keys()]);
  }

  private async fetch(ids: string[]): Promise<void> {
    for (const id of ids) {
      const rows = await this.db
        .select({ answer: relayRequests.answer })
        .from(relayRequests)
        .where(and(eq(relayRequests.id, id), isNotNull(relayRequests.answered_at)))
        .catch(() => []);
      const answer = rows[0]?.answer;
      if (answer) this.awaiting.get(id)?.settle(answer);
    }
  }

  close(): void {
    this.unsubscribe();
  }
}

/** Deletes relayed requests past their expiry: what a replica that crashed while waiting left. */
export async function pruneRelayRequests(db: Db): Promise<void> {
  await db.delete(relayRequests).where(lt(relayRequests.expires_at, sql`now()`));
}
