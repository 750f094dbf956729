import { Worker } from "node:worker_threads";
import { AppError } from "../errors";
import type { JsonCheckOutcome, JsonSchemaIssue, JsonValidationResult } from "./json-schema";
import {
  InvalidJsonSchemaError,
  isFrozenJsonSchema,
  jsonSchemaKey,
  outcomeResult,
  validateJsonEach,
  warmJsonSchemaValidator,
} from "./json-schema";

/**
 * Schemas come from upstream servers, and compiling one at the limits takes a second of CPU
 * (ajv's code generation, RE2 programs, then V8 compiling the generated code on its first run):
 * on the event loop that second would stall every request of every tenant. So a schema seen for
 * the first time is compiled on a worker thread, which says whether it is light
 * (LIGHT_SCHEMA_LIMITS). Light schemas are then compiled and checked on the event loop, which
 * costs milliseconds; heavy ones are only ever compiled and checked on the worker. Both run the
 * same JsonSchemaValidator, so results are the same wherever a check runs.
 */

type Verdict = { light: boolean } | { issues: JsonSchemaIssue[] };

/** Schemas travel as JSON text: copying one string is cheaper than cloning the objects. */
type Request =
  | { kind: "weigh"; schema: string }
  | { kind: "validate"; schemas: readonly string[]; value: unknown };

/** What the worker answers (./json-schema-worker). */
export type SchemaThreadReply =
  | { id: number; kind: "weighed"; verdict: Verdict }
  | { id: number; kind: "validated"; outcomes: JsonCheckOutcome[] }
  | { id: number; kind: "failed"; message: string };

export type SchemaThreadRequest = Request & { id: number };

type Pending = { resolve: (reply: SchemaThreadReply) => void; reject: (error: Error) => void };

/** The worker's heap: a schema built to exhaust memory stops the worker, not the server. */
const WORKER_HEAP_MB = 512;

/**
 * The thread's entry: compiled, the worker tsup builds beside this chunk (dist); from the sources,
 * a module that loads the TypeScript worker through tsx.
 */
const WORKER_ENTRY = import.meta.url.endsWith(".js")
  ? "./json-schema-worker.js"
  : "./json-schema-worker.mjs";

class SchemaThread {
  #worker: Worker | null = null;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;

  request(request: Request): Promise<SchemaThreadReply> {
    const worker = this.#start();
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      // Only a thread with work to do keeps the process alive.
      if (this.#pending.size === 1) worker.ref();
      worker.postMessage({ ...request, id } satisfies SchemaThreadRequest);
    });
  }

  #start(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(new URL(WORKER_ENTRY, import.meta.url), {
      resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB },
    });
    worker.unref();
    worker.on("message", (reply: SchemaThreadReply) => {
      const pending = this.#pending.get(reply.id);
      if (!pending) return;
      this.#pending.delete(reply.id);
      if (this.#pending.size === 0) worker.unref();
      pending.resolve(reply);
    });
    const stopped = (error: Error) => {
      if (this.#worker !== worker) return;
      // The next request starts a new thread; these ones cannot be answered.
      this.#worker = null;
      for (const pending of this.#pending.values()) pending.reject(error);
      this.#pending.clear();
    };
    worker.on("error", stopped);
    worker.on("exit", (code) => {
      stopped(new Error(`The JSON Schema thread stopped (exit code ${code})`));
    });
    this.#worker = worker;
    return worker;
  }
}

const thread = new SchemaThread();

type Weighed = { verdict: Verdict; text: string };

const VERDICT_CACHE_SIZE = 1000;
const verdicts = new Map<string, Verdict>();
const verdictsByIdentity = new WeakMap<object, Weighed>();
const weighing = new Map<string, Promise<Verdict>>();

/**
 * The schema as JSON text, which also keys the verdicts: JSON.stringify is native and takes a
 * fraction of the time canonical JSON does (a schema at the size limit: 1 ms against 15 ms), and
 * a verdict cached twice under two key orders costs nothing but a second weighing.
 */
function schemaText(schema: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(schema);
  } catch {
    // Circular, too deep for the stack, or not JSON: jsonSchemaKey says which, or keys the rest.
  }
  return text ?? jsonSchemaKey(schema);
}

async function verdictOf(schema: unknown): Promise<Weighed> {
  const frozen = isFrozenJsonSchema(schema);
  const known = frozen ? verdictsByIdentity.get(schema) : undefined;
  if (known) return known;
  let text: string;
  try {
    text = schemaText(schema);
  } catch (error) {
    if (error instanceof InvalidJsonSchemaError)
      return { verdict: { issues: error.issues }, text: "" };
    throw error;
  }
  let verdict = verdicts.get(text);
  if (!verdict) {
    let inFlight = weighing.get(text);
    if (!inFlight) {
      inFlight = thread
        .request({ kind: "weigh", schema: text })
        .then((reply) => {
          if (reply.kind !== "weighed") throw threadFailure(reply);
          return reply.verdict;
        })
        .finally(() => weighing.delete(text));
      weighing.set(text, inFlight);
    }
    verdict = await inFlight;
    verdicts.set(text, verdict);
    for (const oldest of verdicts.keys()) {
      if (verdicts.size <= VERDICT_CACHE_SIZE) break;
      verdicts.delete(oldest);
    }
  }
  const weighed = { verdict, text };
  if (frozen) verdictsByIdentity.set(schema, weighed);
  return weighed;
}

function threadFailure(reply: SchemaThreadReply): Error {
  return new Error(
    reply.kind === "failed" ? reply.message : `Unexpected reply from the JSON Schema thread`,
  );
}

/**
 * Checks `value` against each schema in turn with one budget for them all, as
 * JsonSchemaValidator.validateEach does, without holding the event loop for more than a light
 * schema's worth of work.
 */
export async function checkJsonOffLoop(
  schemas: readonly unknown[],
  value: unknown,
): Promise<JsonCheckOutcome[]> {
  if (schemas.length === 0) return [];
  const weighed = await Promise.all(schemas.map(verdictOf));
  // A schema that failed to compile fails before it uses any budget, so leaving it out of the
  // shared budget changes nothing; compiling it again could be heavy.
  const compiled = weighed.flatMap((each, index) =>
    "light" in each.verdict ? [{ ...each, schema: schemas[index], light: each.verdict.light }] : [],
  );
  let checked: JsonCheckOutcome[];
  if (compiled.every((each) => each.light)) {
    checked = validateJsonEach(
      compiled.map((each) => each.schema),
      value,
    );
  } else {
    const texts = compiled.map((each) => each.text);
    const reply = await thread.request({ kind: "validate", schemas: texts, value });
    if (reply.kind !== "validated") throw threadFailure(reply);
    checked = reply.outcomes;
  }
  const answers = checked.values();
  return weighed.map(({ verdict }): JsonCheckOutcome => {
    if ("issues" in verdict) return { kind: "invalid_schema", issues: verdict.issues };
    const next = answers.next();
    if (next.done) throw new Error("Fewer outcomes than schemas from the JSON Schema checks");
    return next.value;
  });
}

/** validateJson off the event loop for heavy schemas; throws as validateJson does. */
export async function validateJsonOffLoop(
  schema: unknown,
  value: unknown,
): Promise<JsonValidationResult> {
  const [outcome] = await checkJsonOffLoop([schema], value);
  if (!outcome) throw new Error("checkJsonOffLoop returned no outcome");
  return outcomeResult(outcome);
}

/** Throws InvalidJsonSchemaError for a schema that does not compile; compiles off the event loop. */
export async function checkJsonSchema(schema: unknown): Promise<void> {
  const { verdict } = await verdictOf(schema);
  if ("issues" in verdict) throw new InvalidJsonSchemaError(verdict.issues);
}

/** For input validation: a schema that does not compile is the caller's mistake, a 400 on that field. */
export async function assertValidJsonSchema(schema: unknown, fieldPath: string): Promise<void> {
  try {
    await checkJsonSchema(schema);
  } catch (error) {
    if (error instanceof InvalidJsonSchemaError)
      throw AppError.invalidField(fieldPath, error.message);
    throw error;
  }
}

/**
 * For a server's start, before it serves: pays the one-off costs a first check would otherwise
 * pay while requests wait (this thread's ajv instances; starting the schema thread).
 */
export async function startJsonSchemaValidation(): Promise<void> {
  // The thread starts (and loads its validator) while this one warms its own.
  const thread = checkJsonSchema({});
  warmJsonSchemaValidator();
  await thread;
}
