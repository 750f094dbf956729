import { setTimeout as sleep } from "node:timers/promises";
import { isAppError } from "../errors";
import type { McpConnectOptions, McpSession } from "./client";
import { connectMcp } from "./client";
import { isMcpCallError } from "./errors";
import type { McpTarget } from "./target";
import { redactSecrets, secretValues } from "./target";

export interface McpConnectionTestResult {
  ok: boolean;
  /** Wall time of the whole check (connect + initialize + ping), in milliseconds. */
  latency_ms: number;
  server: { name: string; version: string } | null;
  protocol_version: string | null;
  capabilities: Record<string, unknown> | null;
  error: string | null;
}

/** Extra time past `timeout_ms` for the guard below; the deadlines inside normally fire first. */
const GUARD_SLACK_MS = 250;
/** How long a successful check waits for the session to close before returning anyway. */
const CLOSE_GRACE_MS = 200;

/**
 * Connects, runs `initialize` and `ping`, closes, and reports. Never throws and settles within
 * `target.timeout_ms` plus a little slack, whatever the upstream does.
 */
export async function testMcpConnection(
  target: McpTarget,
  opts: McpConnectOptions,
): Promise<McpConnectionTestResult> {
  const startedAt = performance.now();
  const elapsed = (): number => Math.round(performance.now() - startedAt);
  const failure = (error: string): McpConnectionTestResult => ({
    ok: false,
    latency_ms: elapsed(),
    server: null,
    protocol_version: null,
    capabilities: null,
    error,
  });

  const budget =
    Number.isFinite(target.timeout_ms) && target.timeout_ms > 0 ? target.timeout_ms : 0;
  const check = (async (): Promise<McpSession> => {
    const session = await connectMcp(target, opts);
    try {
      const remaining = Math.max(1, Math.round(budget - (performance.now() - startedAt)));
      await session.ping({ timeoutMs: remaining, ...(opts.signal ? { signal: opts.signal } : {}) });
      return session;
    } catch (error) {
      void session.close();
      throw error;
    }
  })();

  // Belt and braces: if anything inside ever fails to honour its deadline, the caller still gets
  // an answer on time and the late session is closed when it arrives.
  let guardTimer: NodeJS.Timeout | undefined;
  const guard = new Promise<"guard">((resolve) => {
    guardTimer = setTimeout(() => {
      resolve("guard");
    }, budget + GUARD_SLACK_MS);
  });
  let outcome: McpSession | "guard";
  try {
    outcome = await Promise.race([check, guard]);
  } catch (error) {
    return failure(describeFailure(error, target));
  } finally {
    clearTimeout(guardTimer);
  }
  if (outcome === "guard") {
    check
      .then(
        (late) => late.close(),
        () => undefined,
      )
      .catch(() => undefined);
    return failure(`Timed out after ${target.timeout_ms} ms`);
  }

  const session = outcome;
  const result: McpConnectionTestResult = {
    ok: true,
    latency_ms: elapsed(),
    server: { name: session.serverInfo.name, version: session.serverInfo.version },
    protocol_version: session.protocolVersion,
    capabilities: { ...session.capabilities },
    error: null,
  };
  await Promise.race([session.close(), sleep(CLOSE_GRACE_MS)]);
  return result;
}

function describeFailure(error: unknown, target: McpTarget): string {
  if (isMcpCallError(error) || isAppError(error)) return error.message;
  const message = error instanceof Error ? error.message : String(error);
  return redactSecrets(`Unexpected error: ${message}`, secretValues(target));
}
