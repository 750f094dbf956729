import {
  ClientRequestSchema,
  type JSONRPCMessage,
  type RequestId,
} from "@modelcontextprotocol/sdk/types.js";
import type { ZodError } from "zod";

/** Every request a client may send, by method, with the schema the SDK server parses it with. */
const REQUEST_SCHEMAS = new Map(
  ClientRequestSchema.options.map((schema) => [schema.shape.method.value as string, schema]),
);

/** JSON-RPC's invalid-params message, naming each field at fault. */
export function invalidParamsMessage(error: ZodError): string {
  const issues = error.issues
    .map((issue) => `${issue.path.join(".") || "params"}: ${issue.message}`)
    .join("; ");
  return `Invalid params: ${issues}`;
}

/**
 * Why a request's params are wrong, or null when they are right (or the method is unknown: the
 * SDK answers "method not found" for those). The SDK server reports wrong params as an internal
 * error (-32603) carrying zod's raw output; the spec has a code for them (-32602).
 */
export function requestParamsProblem(request: { method: string }): string | null {
  const result = REQUEST_SCHEMAS.get(request.method)?.safeParse(request);
  return result && !result.success ? invalidParamsMessage(result.error) : null;
}

/** The JSON-RPC error for a request with wrong params. */
export function invalidParams(id: RequestId, message: string): JSONRPCMessage {
  return { jsonrpc: "2.0", id, error: { code: -32602, message } };
}
