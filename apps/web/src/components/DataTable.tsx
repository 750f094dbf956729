import { Fragment, type ReactNode } from "react";
import { Button } from "./Button";
import { ErrorState, Loading } from "./States";

export interface Column<Row> {
  id: string;
  header: string;
  cell: (row: Row) => ReactNode;
  /** Numbers (counts, durations, rates) align right, header and cells alike. */
  numeric?: boolean;
  /** The header is read by screen readers only (a column of row actions). */
  hideHeader?: boolean;
  className?: string;
}

/** A page of a list as every list procedure returns it. */
export interface Page<Row> {
  results: Row[];
  next_cursor: string | null;
}

/** Rows per request: a screenful or two, the rest a click away. */
export const PAGE_SIZE = 50;

/** For `infiniteQueryOptions`: the next page starts at the cursor the last one returned. */
export const NEXT_PAGE = {
  getNextPageParam: (page: { next_cursor: string | null }) => page.next_cursor ?? undefined,
};

/** What a table needs of an infinite query over a list procedure. */
export interface PagedList<Row> {
  data: { pages: readonly Page<Row>[] } | undefined;
  error: unknown;
  hasNextPage: boolean;
  isFetchingNextPage: boolean;
  fetchNextPage: () => Promise<unknown>;
  refetch: () => Promise<unknown>;
}

/** One table for every list: columns declared once, numbers right-aligned. */
export function DataTable<Row>({
  label,
  columns,
  rows,
  rowKey,
  rowClassName,
  rowDetail,
  footer,
}: {
  /** Names the table for assistive technology, e.g. "Agents". */
  label: string;
  columns: readonly Column<Row>[];
  rows: readonly Row[];
  rowKey: (row: Row) => string;
  rowClassName?: (row: Row) => string | undefined;
  /** A full-width line under a row (a test result, the last error), when there is one. */
  rowDetail?: (row: Row) => ReactNode;
  footer?: ReactNode;
}) {
  return (
    <div className="card card--flush">
      <div className="table-scroll">
        <table className="table" aria-label={label}>
          <thead>
            <tr>
              {columns.map((column) => (
                <th key={column.id} scope="col" className={column.numeric ? "num" : undefined}>
                  {column.hideHeader ? (
                    <span className="sr-only">{column.header}</span>
                  ) : (
                    column.header
                  )}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => {
              const detail = rowDetail?.(row);
              return (
                <Fragment key={rowKey(row)}>
                  <tr className={rowClassName?.(row)}>
                    {columns.map((column) => (
                      <td
                        key={column.id}
                        className={
                          [column.numeric ? "num" : "", column.className ?? ""]
                            .filter(Boolean)
                            .join(" ") || undefined
                        }
                      >
                        {column.cell(row)}
                      </td>
                    ))}
                  </tr>
                  {detail ? (
                    <tr className="table__detail">
                      <td colSpan={columns.length}>{detail}</td>
                    </tr>
                  ) : null}
                </Fragment>
              );
            })}
          </tbody>
        </table>
      </div>
      {footer}
    </div>
  );
}

/**
 * A server-paged list: loading, error, empty and the table, with the count shown and the next page
 * one click away. Nothing stops at an arbitrary page size.
 */
export function PagedTable<Row>({
  list,
  label,
  columns,
  rowKey,
  empty,
  rowClassName,
  rowDetail,
  noun = "rows",
}: {
  list: PagedList<Row>;
  label: string;
  columns: readonly Column<Row>[];
  rowKey: (row: Row) => string;
  /** What to show when there is nothing: say what to do. */
  empty: ReactNode;
  rowClassName?: (row: Row) => string | undefined;
  rowDetail?: (row: Row) => ReactNode;
  /** Plural of what is listed, for "Showing 50 agents". */
  noun?: string;
}) {
  if (list.data === undefined) {
    if (list.error) return <ErrorState error={list.error} onRetry={() => void list.refetch()} />;
    return <Loading />;
  }
  const rows = list.data.pages.flatMap((page) => page.results);
  if (rows.length === 0) return <>{empty}</>;
  return (
    <DataTable
      label={label}
      columns={columns}
      rows={rows}
      rowKey={rowKey}
      {...(rowClassName ? { rowClassName } : {})}
      {...(rowDetail ? { rowDetail } : {})}
      footer={
        <div className="card__footer table-footer">
          <span className="muted small" aria-live="polite">
            Showing {rows.length.toLocaleString()} {noun}
            {list.hasNextPage ? "" : " (all)"}
          </span>
          {list.hasNextPage ? (
            <Button
              size="sm"
              busy={list.isFetchingNextPage}
              onClick={() => void list.fetchNextPage()}
            >
              Load more
            </Button>
          ) : null}
        </div>
      }
    />
  );
}
