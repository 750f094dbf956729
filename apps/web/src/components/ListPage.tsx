import type { ReactNode } from "react";
import { PageHeader } from "./States";

/** The frame every list screen shares: title and actions, its filters, then the list. */
export function ListPage({
  title,
  description,
  actions,
  filters,
  aside,
  children,
}: {
  title: string;
  description: ReactNode;
  actions?: ReactNode;
  /** Filter controls, in a search landmark named after the list. */
  filters?: ReactNode;
  /** A panel beside the list (Policies' Evaluate). */
  aside?: ReactNode;
  children: ReactNode;
}) {
  const list = (
    <>
      {filters ? (
        <div className="toolbar" role="search" aria-label={`Filter ${title.toLowerCase()}`}>
          {filters}
        </div>
      ) : null}
      {children}
    </>
  );
  return (
    <div className="page">
      <PageHeader title={title} description={description} actions={actions} />
      {aside ? (
        <div className="layout-aside">
          <div className="stack">{list}</div>
          {aside}
        </div>
      ) : (
        list
      )}
    </div>
  );
}
