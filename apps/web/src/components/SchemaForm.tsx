import { useId, useMemo, useState, type ReactNode } from "react";
import {
  draftToJsonText,
  formValue,
  jsonTextToDraft,
  newItemDraft,
  parseRawJson,
  toDraft,
  type Draft,
  type DraftResult,
} from "../lib/schema-form/draft";
import { labelFor, parseSchema, type FieldSpec, type JsonSchema } from "../lib/schema-form/schema";
import { Button } from "./Button";

export type SchemaFormMode = "form" | "json";

export interface SchemaFormState {
  field: FieldSpec;
  draft: Draft;
  setDraft: (draft: Draft) => void;
  mode: SchemaFormMode;
  raw: string;
  setRaw: (raw: string) => void;
  /** Why the last switch back to the form failed (the JSON did not parse). */
  switchError: string | null;
  setMode: (mode: SchemaFormMode) => void;
  /** The value to send, with the problems found in the current mode. */
  collect: () => DraftResult;
}

/** A form over a tool's input schema, with a raw JSON mode that round-trips through the form. */
export function useSchemaForm(
  schema: JsonSchema,
  initialValue?: Record<string, unknown>,
): SchemaFormState {
  const field = useMemo(() => parseSchema(schema), [schema]);
  // A root the form cannot express (a free-form object, a union) starts in JSON mode.
  const formable = field.kind === "object";
  const [draft, setDraft] = useState<Draft>(() => toDraft(field, initialValue));
  const [mode, setModeState] = useState<SchemaFormMode>(formable ? "form" : "json");
  const [raw, setRaw] = useState(() =>
    formable ? "" : JSON.stringify(initialValue ?? field.default ?? {}, null, 2),
  );
  const [switchError, setSwitchError] = useState<string | null>(null);

  const setMode = (next: SchemaFormMode) => {
    if (next === mode) return;
    if (next === "json") {
      setRaw(draftToJsonText(field, draft));
      setSwitchError(null);
      setModeState("json");
      return;
    }
    const result = jsonTextToDraft(field, raw);
    if ("error" in result) {
      setSwitchError(result.error);
      return;
    }
    setDraft(result.draft);
    setSwitchError(null);
    setModeState("form");
  };

  const collect = () => (mode === "form" ? formValue(field, draft) : parseRawJson(raw));
  return { field, draft, setDraft, mode, raw, setRaw, switchError, setMode, collect };
}

interface SchemaFormProps {
  state: SchemaFormState;
  /** Messages by dotted path; "" is the whole value. */
  errors: Record<string, string>;
  disabled?: boolean;
}

export function SchemaForm({ state, errors, disabled = false }: SchemaFormProps) {
  const idBase = useId();
  const formable = state.field.kind === "object";
  return (
    <div className="schema-form">
      <div className="schema-form__mode" role="group" aria-label="Input mode">
        <Button
          size="sm"
          variant={state.mode === "form" ? "primary" : "ghost"}
          aria-pressed={state.mode === "form"}
          disabled={!formable || disabled}
          onClick={() => {
            state.setMode("form");
          }}
        >
          Form
        </Button>
        <Button
          size="sm"
          variant={state.mode === "json" ? "primary" : "ghost"}
          aria-pressed={state.mode === "json"}
          disabled={disabled}
          onClick={() => {
            state.setMode("json");
          }}
        >
          Raw JSON
        </Button>
      </div>
      {state.switchError ? (
        <p className="field__error" role="alert">
          Fix the JSON before switching back: {state.switchError}
        </p>
      ) : null}
      {state.mode === "json" ? (
        <div className={`field ${errors[""] ? "field--invalid" : ""}`}>
          <label className="field__label" htmlFor={`${idBase}-raw`}>
            Arguments (JSON object)
          </label>
          <textarea
            id={`${idBase}-raw`}
            className="input mono"
            rows={10}
            spellCheck={false}
            value={state.raw}
            disabled={disabled}
            aria-invalid={errors[""] ? true : undefined}
            aria-describedby={errors[""] ? `${idBase}-raw-error` : undefined}
            onChange={(event) => {
              state.setRaw(event.target.value);
            }}
          />
          {errors[""] ? (
            <p id={`${idBase}-raw-error`} className="field__error">
              {errors[""]}
            </p>
          ) : null}
          {!formable ? (
            <p className="field__hint">
              This tool&apos;s input schema has no fixed fields, so it is edited as JSON.
            </p>
          ) : null}
        </div>
      ) : state.field.kind === "object" && state.field.properties.length > 0 ? (
        <ObjectFields
          field={state.field}
          draft={state.draft}
          onChange={state.setDraft}
          path=""
          idBase={idBase}
          errors={errors}
          disabled={disabled}
        />
      ) : (
        <p className="muted">This tool takes no arguments.</p>
      )}
    </div>
  );
}

interface EditorProps {
  field: FieldSpec;
  draft: Draft;
  onChange: (draft: Draft) => void;
  path: string;
  idBase: string;
  errors: Record<string, string>;
  disabled: boolean;
}

function childPath(path: string, key: string | number): string {
  return path === "" ? String(key) : `${path}.${key}`;
}

function domId(idBase: string, path: string): string {
  return `${idBase}-f-${path.replace(/[^A-Za-z0-9_-]/g, "_")}`;
}

function ObjectFields({ field, draft, onChange, path, idBase, errors, disabled }: EditorProps) {
  if (field.kind !== "object" || draft.kind !== "object") return null;
  return (
    <div className="schema-form__fields">
      {field.properties.map((property) => {
        const child = draft.fields[property.name] ?? toDraft(property.field);
        return (
          <PropertyEditor
            key={property.name}
            label={labelFor(property.name, property.field)}
            required={property.required}
            field={property.field}
            draft={child}
            onChange={(next) => {
              onChange({ kind: "object", fields: { ...draft.fields, [property.name]: next } });
            }}
            path={childPath(path, property.name)}
            idBase={idBase}
            errors={errors}
            disabled={disabled}
          />
        );
      })}
    </div>
  );
}

function describeDefault(field: FieldSpec): string | null {
  if (field.default === undefined) return null;
  return `Default: ${JSON.stringify(field.default)}`;
}

function Hint({ id, field, extra }: { id: string; field: FieldSpec; extra?: string | undefined }) {
  const parts = [field.description, describeDefault(field), extra].filter((part): part is string =>
    Boolean(part),
  );
  if (parts.length === 0) return null;
  return (
    <p id={id} className="field__hint">
      {parts.join(" · ")}
    </p>
  );
}

function optionLabel(option: unknown): string {
  return typeof option === "string" ? option : JSON.stringify(option);
}

function PropertyEditor({
  label,
  required,
  ...props
}: EditorProps & {
  label: string;
  required: boolean;
}) {
  const { field, draft, onChange, path, idBase, errors, disabled } = props;
  const id = domId(idBase, path);
  const error = errors[path];
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const hasHint = Boolean(field.description) || describeDefault(field) !== null;
  const describedBy =
    [hasHint ? hintId : null, error ? errorId : null].filter(Boolean).join(" ") || undefined;
  const aria = {
    "aria-invalid": error ? true : undefined,
    "aria-describedby": describedBy,
    "aria-required": required || undefined,
  };
  const errorLine = error ? (
    <p id={errorId} className="field__error">
      {error}
    </p>
  ) : null;
  const labelClass = required ? "field__label field__label--required" : "field__label";

  if (field.kind === "object" || field.kind === "array") {
    return (
      <fieldset
        className={`schema-form__group ${error ? "field--invalid" : ""}`}
        aria-describedby={describedBy}
      >
        <legend className={labelClass}>{label}</legend>
        <Hint id={hintId} field={field} />
        {field.kind === "object" ? (
          <ObjectFields {...props} />
        ) : (
          <ArrayItems {...props} label={label} />
        )}
        {errorLine}
      </fieldset>
    );
  }

  if (field.kind === "boolean" && required) {
    const checked = draft.kind === "bool" && draft.value === true;
    return (
      <div className={`field field--check ${error ? "field--invalid" : ""}`}>
        <input
          id={id}
          type="checkbox"
          checked={checked}
          disabled={disabled}
          {...aria}
          onChange={(event) => {
            onChange({ kind: "bool", value: event.target.checked });
          }}
        />
        {/* Only required booleans are checkboxes: an optional one needs a "not set" choice. */}
        <label htmlFor={id} className="field__label--required">
          {label}
        </label>
        <Hint id={hintId} field={field} />
        {errorLine}
      </div>
    );
  }

  let control: ReactNode;
  switch (field.kind) {
    case "boolean": {
      const value = draft.kind === "bool" ? draft.value : null;
      control = (
        <select
          id={id}
          className="input"
          disabled={disabled}
          value={value === null ? "" : String(value)}
          {...aria}
          onChange={(event) => {
            const next = event.target.value;
            onChange({ kind: "bool", value: next === "" ? null : next === "true" });
          }}
        >
          <option value="">— not set —</option>
          <option value="true">true</option>
          <option value="false">false</option>
        </select>
      );
      break;
    }
    case "enum": {
      const index = draft.kind === "choice" ? draft.index : -1;
      control = (
        <select
          id={id}
          className="input"
          disabled={disabled}
          value={String(index)}
          {...aria}
          onChange={(event) => {
            onChange({ kind: "choice", index: Number(event.target.value) });
          }}
        >
          <option value="-1">{required ? "— choose —" : "— not set —"}</option>
          {field.options.map((option, optionIndex) => (
            <option key={optionLabel(option)} value={String(optionIndex)}>
              {optionLabel(option)}
            </option>
          ))}
        </select>
      );
      break;
    }
    case "json": {
      control = (
        <textarea
          id={id}
          className="input mono"
          rows={4}
          spellCheck={false}
          disabled={disabled}
          placeholder="JSON value"
          value={draft.kind === "text" ? draft.text : ""}
          {...aria}
          onChange={(event) => {
            onChange({ kind: "text", text: event.target.value });
          }}
        />
      );
      break;
    }
    case "number":
    case "integer":
    case "string": {
      const text = draft.kind === "text" ? draft.text : "";
      const isNumber = field.kind !== "string";
      const inputType =
        field.kind === "string" && field.format === "email"
          ? "email"
          : field.kind === "string" && field.format === "uri"
            ? "url"
            : field.kind === "string" && field.format === "date"
              ? "date"
              : "text";
      // A newline cannot live in an input: text that has one (from raw JSON) needs a textarea too.
      const long = field.kind === "string" && (field.multiline === true || text.includes("\n"));
      const example = field.examples?.[0];
      const placeholder = example === undefined ? undefined : optionLabel(example);
      control = long ? (
        <textarea
          id={id}
          className="input"
          rows={4}
          disabled={disabled}
          value={text}
          placeholder={placeholder}
          {...aria}
          onChange={(event) => {
            onChange({ kind: "text", text: event.target.value });
          }}
        />
      ) : (
        <input
          id={id}
          className={`input ${isNumber ? "input--number" : ""}`}
          type={inputType}
          inputMode={
            field.kind === "integer" ? "numeric" : field.kind === "number" ? "decimal" : undefined
          }
          disabled={disabled}
          value={text}
          placeholder={placeholder}
          autoComplete="off"
          {...aria}
          onChange={(event) => {
            onChange({ kind: "text", text: event.target.value });
          }}
        />
      );
      break;
    }
  }

  return (
    <div className={`field ${error ? "field--invalid" : ""}`}>
      <div className="field__label-row">
        <label htmlFor={id} className={labelClass}>
          {label}
        </label>
        <span className="field__type" aria-hidden="true">
          {field.kind}
        </span>
      </div>
      {control}
      <Hint id={hintId} field={field} />
      {errorLine}
    </div>
  );
}

function ArrayItems({
  field,
  draft,
  onChange,
  path,
  idBase,
  errors,
  disabled,
  label,
}: EditorProps & { label: string }) {
  if (field.kind !== "array" || draft.kind !== "list") return null;
  const items = draft.items;
  const atMax = field.maxItems !== undefined && items.length >= field.maxItems;
  return (
    <div className="schema-form__array">
      {items.length === 0 ? <p className="muted small">No items.</p> : null}
      {items.map((item, index) => (
        // Items have no identity beyond their position; removing one re-keys those after it.
        <div className="schema-form__item" key={index}>
          <div className="schema-form__item-body">
            <PropertyEditor
              label={`${label} ${index + 1}`}
              required
              field={field.items}
              draft={item}
              onChange={(next) => {
                const copy = items.slice();
                copy[index] = next;
                onChange({ kind: "list", items: copy });
              }}
              path={childPath(path, index)}
              idBase={idBase}
              errors={errors}
              disabled={disabled}
            />
          </div>
          <Button
            size="sm"
            variant="ghost"
            disabled={disabled}
            aria-label={`Remove ${label} ${index + 1}`}
            onClick={() => {
              onChange({
                kind: "list",
                items: items.filter((_, candidate) => candidate !== index),
              });
            }}
          >
            Remove
          </Button>
        </div>
      ))}
      <Button
        size="sm"
        disabled={disabled || atMax}
        onClick={() => {
          onChange({ kind: "list", items: [...items, newItemDraft(field.items)] });
        }}
      >
        Add {label.toLowerCase()} item
      </Button>
    </div>
  );
}
