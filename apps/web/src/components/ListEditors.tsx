import { useId } from "react";
import { Button } from "./Button";

export interface KeyValueRow {
  id: number;
  key: string;
  value: string;
}

let rowIds = 0;
export function kvRow(key = "", value = ""): KeyValueRow {
  rowIds += 1;
  return { id: rowIds, key, value };
}

export function rowsFromRecord(record: Record<string, string>): KeyValueRow[] {
  return Object.entries(record).map(([key, value]) => kvRow(key, value));
}

/** Rows with an empty name are dropped; a later duplicate name wins, as in an object literal. */
export function recordFromRows(rows: readonly KeyValueRow[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (const row of rows) {
    const key = row.key.trim();
    if (key !== "") record[key] = row.value;
  }
  return record;
}

interface KeyValueEditorProps {
  legend: string;
  rows: KeyValueRow[];
  onChange: (rows: KeyValueRow[]) => void;
  keyLabel?: string;
  valueLabel?: string;
  keyPlaceholder?: string;
  valuePlaceholder?: string;
  secret?: boolean;
  /** Errors by key name (the server reports `headers.<name>`). */
  errors?: Record<string, string>;
  error?: string | undefined;
  hint?: string;
  addLabel?: string;
}

export function KeyValueEditor({
  legend,
  rows,
  onChange,
  keyLabel = "Name",
  valueLabel = "Value",
  keyPlaceholder,
  valuePlaceholder,
  secret = false,
  errors = {},
  error,
  hint,
  addLabel = "Add",
}: KeyValueEditorProps) {
  const id = useId();
  const update = (rowId: number, patch: Partial<KeyValueRow>) => {
    onChange(rows.map((row) => (row.id === rowId ? { ...row, ...patch } : row)));
  };
  return (
    <fieldset className="kv">
      <legend>{legend}</legend>
      {hint ? <p className="field__hint">{hint}</p> : null}
      {rows.map((row, index) => {
        const rowError = errors[row.key.trim()];
        return (
          <div className="kv__row" key={row.id}>
            <label className="sr-only" htmlFor={`${id}-k${row.id}`}>
              {`${legend} ${index + 1} ${keyLabel.toLowerCase()}`}
            </label>
            <input
              id={`${id}-k${row.id}`}
              className="input mono"
              placeholder={keyPlaceholder ?? keyLabel}
              value={row.key}
              aria-invalid={rowError ? true : undefined}
              autoComplete="off"
              onChange={(event) => {
                update(row.id, { key: event.target.value });
              }}
            />
            <label className="sr-only" htmlFor={`${id}-v${row.id}`}>
              {`${legend} ${index + 1} ${valueLabel.toLowerCase()}`}
            </label>
            <input
              id={`${id}-v${row.id}`}
              className="input mono"
              type={secret ? "password" : "text"}
              placeholder={valuePlaceholder ?? valueLabel}
              value={row.value}
              autoComplete={secret ? "new-password" : "off"}
              onChange={(event) => {
                update(row.id, { value: event.target.value });
              }}
            />
            <Button
              size="sm"
              variant="ghost"
              aria-label={`Remove ${legend.toLowerCase()} ${index + 1}`}
              onClick={() => {
                onChange(rows.filter((candidate) => candidate.id !== row.id));
              }}
            >
              Remove
            </Button>
            {rowError ? <p className="field__error kv__error">{rowError}</p> : null}
          </div>
        );
      })}
      {error ? <p className="field__error">{error}</p> : null}
      <Button
        size="sm"
        onClick={() => {
          onChange([...rows, kvRow()]);
        }}
      >
        {addLabel}
      </Button>
    </fieldset>
  );
}

export interface ListRow {
  id: number;
  value: string;
}

export function listRow(value = ""): ListRow {
  rowIds += 1;
  return { id: rowIds, value };
}

export function StringListEditor({
  legend,
  rows,
  onChange,
  hint,
  error,
  addLabel = "Add",
  itemLabel = "Item",
}: {
  legend: string;
  rows: ListRow[];
  onChange: (rows: ListRow[]) => void;
  hint?: string;
  error?: string | undefined;
  addLabel?: string;
  itemLabel?: string;
}) {
  const id = useId();
  return (
    <fieldset className="kv">
      <legend>{legend}</legend>
      {hint ? <p className="field__hint">{hint}</p> : null}
      {rows.map((row, index) => (
        <div className="kv__row kv__row--single" key={row.id}>
          <label
            className="sr-only"
            htmlFor={`${id}-${row.id}`}
          >{`${itemLabel} ${index + 1}`}</label>
          <input
            id={`${id}-${row.id}`}
            className="input mono"
            value={row.value}
            placeholder={`${itemLabel} ${index + 1}`}
            onChange={(event) => {
              onChange(
                rows.map((candidate) =>
                  candidate.id === row.id ? { ...candidate, value: event.target.value } : candidate,
                ),
              );
            }}
          />
          <Button
            size="sm"
            variant="ghost"
            aria-label={`Remove ${itemLabel.toLowerCase()} ${index + 1}`}
            onClick={() => {
              onChange(rows.filter((candidate) => candidate.id !== row.id));
            }}
          >
            Remove
          </Button>
        </div>
      ))}
      {error ? <p className="field__error">{error}</p> : null}
      <Button
        size="sm"
        onClick={() => {
          onChange([...rows, listRow()]);
        }}
      >
        {addLabel}
      </Button>
    </fieldset>
  );
}
