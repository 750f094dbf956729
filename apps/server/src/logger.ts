import pino from "pino";

export type Logger = pino.Logger;

/** The longest a buffered log line waits before it is written. */
const LOG_FLUSH_INTERVAL_MS = 500;

export function createLogger(level: string): Logger {
  if (level === "silent") return pino({ level });
  // Lines are buffered up to 4 KiB (a write per line costs a measurable share of a gateway
  // call), written from libuv's thread pool, flushed at least twice a second, and flushed
  // synchronously when the process exits.
  const destination = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  setInterval(() => {
    destination.flush();
  }, LOG_FLUSH_INTERVAL_MS).unref();
  return pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      // Credentials never reach a log line, whatever a caller passes in.
      redact: {
        paths: [
          "*.authorization",
          "*.cookie",
          "*.password",
          "*.token",
          "*.secret",
          "headers.authorization",
          "headers.cookie",
        ],
        censor: "[redacted]",
      },
    },
    destination,
  );
}
