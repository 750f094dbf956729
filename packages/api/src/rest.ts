import type { AnyTRPCRouter } from "@trpc/server";
import { TRPCError } from "@trpc/server";
import type { Context, RequestInfo } from "./context";
import type { ErrorBody } from "./contracts/common";
import { toWireError } from "./errors";
import { restProcedures } from "./procedures";

/*
 * REST face of the tRPC procedures: every procedure with `meta.openapi` answers at its path under
 * the base path, with or without a trailing slash. Written for the fetch API so any host mounts it;
 * trpc-to-openapi generates the matching document (see openapi.ts).
 */

interface RestRoute {
  method: string;
  pattern: RegExp;
  params: string[];
  procedurePath: string;
  /** The OpenAPI path, `/agents/{agent_id}`: what metrics and spans name the route by. */
  template: string;
  successStatus: 200 | 201 | 204;
}

function compileRoutes(router: AnyTRPCRouter): RestRoute[] {
  return restProcedures(router).map(({ path: procedurePath, openapi, successStatus }) => {
    const params: string[] = [];
    const source = openapi.path
      .replace(/\/+$/, "")
      .split("/")
      .map((segment) => {
        const param = /^\{(\w+)\}$/.exec(segment);
        if (param?.[1]) {
          params.push(param[1]);
          return "([^/]+)";
        }
        return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      })
      .join("/");
    return {
      method: openapi.method,
      pattern: new RegExp(`^${source}/?$`),
      params,
      procedurePath,
      template: openapi.path,
      successStatus,
    };
  });
}

class RestRequestError extends Error {
  constructor(
    readonly status: number,
    readonly body: ErrorBody,
    readonly headers: Record<string, string> = {},
  ) {
    super(body.message);
  }
}

async function readJsonBody(req: Request, maxBytes: number): Promise<Record<string, unknown>> {
  const declared = Number(req.headers.get("content-length") ?? "0");
  const tooLarge = () =>
    new RestRequestError(413, {
      code: "PAYLOAD_TOO_LARGE",
      message: `Request body exceeds ${maxBytes} bytes`,
    });
  if (declared > maxBytes) throw tooLarge();
  const chunks: Uint8Array[] = [];
  let size = 0;
  // The fetch types leave chunk types open; request bodies are byte streams.
  const reader = (req.body as ReadableStream<Uint8Array> | null)?.getReader();
  while (reader) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  const text = Buffer.concat(chunks).toString("utf8").trim();
  if (text === "") return {};
  const contentType = req.headers.get("content-type") ?? "";
  if (!/^application\/([\w.+-]+\+)?json\b/i.test(contentType)) {
    throw new RestRequestError(415, {
      code: "UNSUPPORTED_MEDIA_TYPE",
      message: "Send the body as JSON with Content-Type: application/json",
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new RestRequestError(400, {
      code: "BAD_REQUEST",
      message: "Request body is not valid JSON",
    });
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new RestRequestError(400, {
      code: "BAD_REQUEST",
      message: "Request body must be a JSON object",
    });
  }
  return parsed as Record<string, unknown>;
}

/** A path segment's value; malformed %-escapes are the client's error, named by the parameter. */
function decodePathParam(name: string, raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    const message = "Not valid percent-encoding (a % must start a UTF-8 escape like %2F)";
    throw new RestRequestError(400, {
      code: "BAD_REQUEST",
      message: `Invalid input: ${name}: ${message}`,
      issues: [{ path: name, message }],
    });
  }
}

/** Every query parameter of the API is a single value: a repeated one is refused by name. */
function readQuery(url: URL): Record<string, string> {
  const query: Record<string, string> = {};
  for (const key of new Set(url.searchParams.keys())) {
    const values = url.searchParams.getAll(key);
    if (values.length > 1) {
      const message = `Given ${values.length} times; give it once`;
      throw new RestRequestError(400, {
        code: "BAD_REQUEST",
        message: `Invalid input: ${key}: ${message}`,
        issues: [{ path: key, message }],
      });
    }
    query[key] = values[0] ?? "";
  }
  return query;
}

function json(status: number, body: unknown, headers: Headers): Response {
  if (status === 204) return new Response(null, { status, headers });
  headers.set("content-type", "application/json; charset=utf-8");
  return new Response(JSON.stringify(body), { status, headers });
}

export interface RestHandlerOptions {
  router: AnyTRPCRouter;
  /** e.g. `/api/v1`; requests outside it are not handled. */
  basePath: string;
  createContext: (info: RequestInfo) => Promise<Context>;
  maxBodyBytes: number;
  onError?: (error: unknown, info: { path: string; requestId: string }) => void;
}

export function createRestHandler(options: RestHandlerOptions) {
  const routes = compileRoutes(options.router);
  const createCaller = options.router.createCaller as (ctx: Context) => Record<string, unknown>;

  return async (
    req: Request,
    extras: {
      requestId: string;
      ip: string | null;
      /** Told the matched route's template, before the procedure runs. */
      onRoute?: (template: string) => void;
    },
  ): Promise<Response> => {
    const url = new URL(req.url);
    const path = url.pathname.slice(options.basePath.length) || "/";
    const resHeaders = new Headers({ "x-request-id": extras.requestId });
    const fail = (status: number, body: ErrorBody, headers: Record<string, string> = {}) => {
      for (const [name, value] of Object.entries(headers)) resHeaders.set(name, value);
      if (status === 401)
        resHeaders.set("www-authenticate", 'Token realm="api", Bearer realm="api"');
      return json(status, { ...body, request_id: extras.requestId }, resHeaders);
    };

    const matching = routes.filter((route) => route.pattern.test(path));
    if (matching.length === 0)
      return fail(404, { code: "NOT_FOUND", message: `No route for ${path}` });
    const route = matching.find((candidate) => candidate.method === req.method);
    if (route) extras.onRoute?.(route.template);
    if (!route) {
      return fail(
        405,
        { code: "METHOD_NOT_ALLOWED", message: `${req.method} is not allowed on ${path}` },
        { allow: matching.map((candidate) => candidate.method).join(", ") },
      );
    }

    try {
      const params: Record<string, string> = {};
      const values = route.pattern.exec(path)?.slice(1) ?? [];
      route.params.forEach((name, index) => {
        params[name] = decodePathParam(name, values[index] ?? "");
      });
      const payload =
        route.method === "GET" || route.method === "DELETE"
          ? readQuery(url)
          : await readJsonBody(req, options.maxBodyBytes);
      const input = { ...payload, ...params };
      const ctx = await options.createContext({
        req,
        resHeaders,
        requestId: extras.requestId,
        ip: extras.ip,
        surface: "rest",
      });
      let target: unknown = createCaller(ctx);
      for (const segment of route.procedurePath.split(".")) {
        target = (target as Record<string, unknown>)[segment];
      }
      if (typeof target !== "function")
        throw new TRPCError({ code: "NOT_FOUND", message: `No route for ${path}` });
      const data: unknown = await (target as (input: unknown) => Promise<unknown>)(input);
      return json(ctx.response.status ?? route.successStatus, data, resHeaders);
    } catch (error) {
      if (error instanceof RestRequestError) return fail(error.status, error.body, error.headers);
      const wire = toWireError(error);
      if (wire.status >= 500) options.onError?.(error, { path, requestId: extras.requestId });
      // A Retry-After of a rate limit is already among the response headers (see publicProcedure).
      const { status, ...body } = wire;
      return fail(status, body);
    }
  };
}
