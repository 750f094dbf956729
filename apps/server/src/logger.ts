import { createRequire } from "node:module";
import pino from "pino";
import type PinoPretty from "pino-pretty";

export type Logger = pino.Logger;

/** The longest a buffered log line waits before it is written. */
const LOG_FLUSH_INTERVAL_MS = 500;

/** Fields that hold credentials wherever they appear in a logged object (top level or one down). */
const CREDENTIAL_FIELDS = [
  "authorization",
  "cookie",
  "set-cookie",
  "password",
  "password_confirm",
  "password_hash",
  "token",
  "secret",
  "api_key",
  "key_hash",
];
const REDACTED_PATHS = [
  ...CREDENTIAL_FIELDS.flatMap((field) => [`["${field}"]`, `*["${field}"]`]),
  ...["authorization", "cookie"].flatMap((field) => [
    `headers["${field}"]`,
    `*.headers["${field}"]`,
  ]),
];

/**
 * Fields of database errors that carry row values: drizzle's `params` (every bound parameter of the
 * failed statement: a new user's password hash, a secret's ciphertext, a tool's input), and the
 * server's `detail` ("Failing row contains (…)"), `where` and `internalQuery`.
 */
const VALUE_FIELDS = new Set(["params", "detail", "where", "internalQuery"]);
const MAX_CAUSES = 8;

function causeChain(error: Error): Error[] {
  const chain = [error];
  for (let cause = error.cause; cause instanceof Error && chain.length <= MAX_CAUSES;) {
    chain.push(cause);
    cause = cause.cause;
  }
  return chain;
}

/**
 * A copy of the error and its causes without the values a failed statement was given. The SQL text
 * (placeholders only), the codes and the stack stay, which is what a failure is diagnosed from.
 */
export function withoutStatementValues(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const chain = causeChain(error);
  // drizzle's DrizzleQueryError says `Failed query: <sql>\nparams: <every parameter>`, and errors
  // wrapping it (tRPC's) repeat its message.
  const statementMessages = chain.flatMap((link) => {
    const { params, query } = link as Error & { params?: unknown; query?: unknown };
    return params !== undefined && typeof query === "string"
      ? [[link.message, `Failed query: ${query}`] as const]
      : [];
  });
  const clean = (text: string) =>
    statementMessages.reduce((result, [raw, safe]) => result.split(raw).join(safe), text);

  const copies = chain.map((link) => {
    const copy = Object.create(Object.getPrototypeOf(link) as object) as Record<string, unknown>;
    for (const [name, value] of Object.entries(link)) {
      if (!VALUE_FIELDS.has(name) && name !== "cause") copy[name] = value;
    }
    const message = clean(link.message);
    const frames = (link.stack ?? "").split("\n").filter((line) => /^\s+at /.test(line));
    const hidden = (value: unknown) => ({ value, enumerable: false, writable: true });
    Object.defineProperties(copy, {
      name: hidden(link.name),
      message: hidden(message),
      stack: hidden([`${link.name}: ${message}`, ...frames].join("\n")),
    });
    return copy;
  });
  copies.forEach((copy, index) => {
    const cause = copies[index + 1];
    if (cause)
      Object.defineProperty(copy, "cause", { value: cause, enumerable: false, writable: true });
  });
  return copies[0];
}

/**
 * Where lines go: stdout (buffered) unless a destination is given (the tests read the lines
 * written through the same redaction and serializers). `pretty` writes coloured lines for a
 * terminal (development); `json` one object a line, for log collectors (production).
 */
export function createLogger(
  level: string,
  destination?: pino.DestinationStream,
  format: "pretty" | "json" = "json",
): Logger {
  if (level === "silent") return pino({ level });
  const options: pino.LoggerOptions = {
    level,
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    // Credentials never reach a log line, whatever a caller passes in.
    redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
    serializers: {
      err: (error: unknown) => pino.stdSerializers.err(withoutStatementValues(error) as Error),
    },
  };
  if (destination) return pino(options, destination);
  if (format === "pretty") {
    return pino(
      options,
      // Synchronous: a terminal's reader is a person, and nothing is lost at exit.
      // Loaded only here: production never formats for a terminal, and it slows every start.
      (createRequire(import.meta.url)("pino-pretty") as typeof PinoPretty)({
        translateTime: "SYS:HH:MM:ss.l",
        ignore: "pid,hostname",
        singleLine: true,
        sync: true,
      }),
    );
  }
  // Lines are buffered up to 4 KiB (a write per line costs a measurable share of a gateway
  // call), written from libuv's thread pool, flushed at least twice a second, and flushed
  // synchronously when the process exits.
  const stdout = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  setInterval(() => {
    stdout.flush();
  }, LOG_FLUSH_INTERVAL_MS).unref();
  return pino(options, stdout);
}
