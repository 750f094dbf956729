import {
  context,
  propagation,
  SpanStatusCode,
  trace,
  type Attributes,
  type Span,
  type Tracer,
} from "@opentelemetry/api";

export type { Span, Tracer };

/*
 * Spans of a governed call. The tracer is null unless the operator turned tracing on
 * (OTEL_EXPORTER_OTLP_ENDPOINT): then nothing here allocates a span or touches the context, so a
 * call costs what it cost before tracing existed.
 */

function failed(span: Span, error: unknown): void {
  span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({
    code: SpanStatusCode.ERROR,
    message: error instanceof Error ? error.message : undefined,
  });
}

/** `fn` inside a child span of the active one (ended when `fn` settles), or just `fn`. */
export function inSpan<T>(
  tracer: Tracer | null,
  name: string,
  fn: () => Promise<T>,
  attributes?: Attributes,
): Promise<T> {
  if (tracer === null) return fn();
  return tracer.startActiveSpan(name, attributes ? { attributes } : {}, async (span) => {
    try {
      return await fn();
    } catch (error) {
      failed(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/**
 * A span over work that outlives the code starting it (a record written after the answer): it
 * ends when `done` settles.
 */
export function spanUntil(tracer: Tracer | null, name: string, done: Promise<unknown>): void {
  if (tracer === null) return;
  const span = tracer.startSpan(name);
  done.then(
    () => {
      span.end();
    },
    (error: unknown) => {
      failed(span, error);
      span.end();
    },
  );
}

/** The trace id of the active span, for the run record and logs; null without one. */
export function activeTraceId(): string | null {
  const span = trace.getActiveSpan();
  if (!span) return null;
  const { traceId } = span.spanContext();
  return trace.isSpanContextValid(span.spanContext()) ? traceId : null;
}

/**
 * Adds the active trace's W3C `traceparent` (and `tracestate`) to outgoing headers, so an HTTP
 * upstream continues the trace. Without an active span (tracing off) nothing is added.
 */
export function injectTraceContext(headers: Record<string, unknown>): void {
  if (!trace.getActiveSpan()) return;
  propagation.inject(context.active(), headers);
}
