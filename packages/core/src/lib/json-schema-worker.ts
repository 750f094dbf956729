import { parentPort } from "node:worker_threads";
import { InvalidJsonSchemaError, JsonSchemaValidator } from "./json-schema";
import type { SchemaThreadReply, SchemaThreadRequest } from "./json-schema-thread";

const port = parentPort;
if (!port) throw new Error("json-schema-worker runs as a worker thread (./json-schema-thread)");

const validator = new JsonSchemaValidator();

port.on("message", (request: SchemaThreadRequest) => {
  port.postMessage(answer(request));
});

function answer(request: SchemaThreadRequest): SchemaThreadReply {
  const { id } = request;
  try {
    if (request.kind === "validate") {
      return {
        id,
        kind: "validated",
        outcomes: validator.validateEach(
          request.schemas.map((text) => JSON.parse(text) as unknown),
          request.value,
        ),
      };
    }
    try {
      return {
        id,
        kind: "weighed",
        verdict: { light: validator.isLight(JSON.parse(request.schema) as unknown) },
      };
    } catch (error) {
      if (error instanceof InvalidJsonSchemaError)
        return { id, kind: "weighed", verdict: { issues: error.issues } };
      throw error;
    }
  } catch (error) {
    return { id, kind: "failed", message: error instanceof Error ? error.message : String(error) };
  }
}
