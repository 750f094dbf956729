import { generateOpenApiDocument, type OpenAPIObject } from "trpc-to-openapi";
import { z } from "zod";
import { errorBody } from "./contracts/common";
import { appRouter } from "./root";
import { restProcedures } from "./procedures";

const ERROR_DESCRIPTIONS: Record<string, string> = {
  "400": "Invalid input; `issues` names each field at fault",
  "401": "Missing, invalid or expired token",
  "403": "Your role in the organization does not allow this",
  "404": "Not found, or it belongs to an organization you are not in",
  "409": "Conflicts with an existing resource",
  "413": "Request body too large",
  "429": "Rate limited",
  "500": "Unexpected error; the body carries a request_id to quote",
};

type Operation = {
  operationId?: string;
  responses?: Record<string, { description?: string; content?: unknown }>;
  security?: Record<string, string[]>[];
};

/**
 * The document trpc-to-openapi derives from the procedures, adjusted where the generator cannot
 * express our conventions: 201/204 success statuses, the shared error body, the Token scheme.
 */
export function createOpenApiDocument(baseUrl: string): OpenAPIObject {
  const document = generateOpenApiDocument(appRouter, {
    title: "MCP Agents Platform API",
    version: "1.0.0",
    baseUrl,
    description:
      "Register MCP servers, sync their tools, govern which agent may call which tool, and run governed tool calls.",
    securitySchemes: {
      Token: {
        type: "apiKey",
        in: "header",
        name: "Authorization",
        description: "`Token <token>` from /auth/login (or `Bearer <token>`)",
      },
    },
  });

  const errorSchema = z.toJSONSchema(errorBody, { target: "openapi-3.0" });
  document.components = { ...document.components, schemas: { ...document.components?.schemas, Error: errorSchema as Record<string, unknown> } };

  const statusByOperation = new Map(
    restProcedures(appRouter).map((procedure) => [
      procedure.openapi.operationId ?? procedure.path.replace(/\./g, "-"),
      procedure.successStatus,
    ]),
  );

  for (const pathItem of Object.values(document.paths ?? {})) {
    for (const operation of Object.values(pathItem as Record<string, Operation>)) {
      const responses = operation.responses;
      if (!responses || !operation.operationId) continue;
      const status = statusByOperation.get(operation.operationId) ?? 200;
      const success = responses["200"];
      const errorCodes = operation.security?.length ? ["400", "401", "403", "404", "409", "429"] : ["400", "401", "409", "429"];
      operation.responses = {
        [String(status)]: status === 204 ? { description: "No content" } : (success ?? { description: "OK" }),
        ...Object.fromEntries(
          [...errorCodes, "500"].map((code) => [
            code,
            {
              description: ERROR_DESCRIPTIONS[code] ?? "Error",
              content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
            },
          ]),
        ),
      };
    }
  }
  return document;
}
