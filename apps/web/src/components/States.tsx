import { Inbox } from "lucide-react";
import type { ReactNode } from "react";
import { errorInfo } from "../lib/errors";
import { Button } from "./Button";

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <div className="state state--loading" role="status">
      <span className="spinner" aria-hidden="true" />
      <span>{label}</span>
    </div>
  );
}

export function EmptyState({
  title,
  children,
  action,
}: {
  title: string;
  children?: ReactNode;
  action?: ReactNode;
}) {
  return (
    <div className="state state--empty">
      <Inbox className="state__icon" size={28} aria-hidden="true" />
      <h3>{title}</h3>
      {children ? <p>{children}</p> : null}
      {action}
    </div>
  );
}

export function ErrorState({
  error,
  onRetry,
  title = "Could not load this",
}: {
  error: unknown;
  onRetry?: () => void;
  title?: string;
}) {
  const info = errorInfo(error);
  return (
    <div className="state state--error" role="alert">
      <h3>{title}</h3>
      <p>{info.message}</p>
      {info.requestId ? <ErrorDetails>Request id: {info.requestId}</ErrorDetails> : null}
      {onRetry ? (
        <Button size="sm" onClick={onRetry}>
          Try again
        </Button>
      ) : null}
    </div>
  );
}

/** What support needs (a request id, an error message) and a user does not, folded away. */
export function ErrorDetails({ children }: { children: ReactNode }) {
  return (
    <details className="error-details">
      <summary>Details</summary>
      <p className="mono small">{children}</p>
    </details>
  );
}

/**
 * A form-level error: the API's message, with its request id folded away for support. An error
 * the form shows beside its fields is not repeated here: pass their messages as `shownAtFields`.
 */
export function FormError({
  error,
  shownAtFields = {},
}: {
  error: unknown;
  shownAtFields?: Readonly<Record<string, string>>;
}) {
  if (error === null || error === undefined) return null;
  const info = errorInfo(error);
  const fieldMessages = new Set(Object.values(shownAtFields));
  if (info.issues.length > 0 && info.issues.every((issue) => fieldMessages.has(issue.message)))
    return null;
  return (
    <div className="alert alert--error" role="alert">
      {info.message}
      {info.requestId ? <ErrorDetails>Request id: {info.requestId}</ErrorDetails> : null}
    </div>
  );
}

export function PageHeader({
  title,
  description,
  actions,
}: {
  title: ReactNode;
  description?: ReactNode;
  actions?: ReactNode;
}) {
  return (
    <header className="page-header">
      <div>
        <h1>{title}</h1>
        {description ? <p className="page-header__description">{description}</p> : null}
      </div>
      {actions ? <div className="page-header__actions">{actions}</div> : null}
    </header>
  );
}
