import { useId, type InputHTMLAttributes, type ReactNode } from "react";
import { Badge } from "./Badge";

export interface ControlProps {
  id: string;
  "aria-invalid": boolean | undefined;
  "aria-describedby": string | undefined;
  "aria-required": boolean | undefined;
}

interface FieldProps {
  label: ReactNode;
  error?: string | undefined;
  hint?: ReactNode;
  required?: boolean;
  className?: string;
  /** Renders the control with the id and ARIA wiring that ties it to the label, hint and error. */
  children: (props: ControlProps) => ReactNode;
}

export function Field({ label, error, hint, required = false, className, children }: FieldProps) {
  const id = useId();
  const hintId = hint ? `${id}-hint` : undefined;
  const errorId = error ? `${id}-error` : undefined;
  const describedBy = [hintId, errorId].filter(Boolean).join(" ") || undefined;
  return (
    <div
      className={["field", error ? "field--invalid" : "", className ?? ""]
        .filter(Boolean)
        .join(" ")}
    >
      {/* The asterisk is drawn by CSS so the label's text (and accessible name) is just the label. */}
      <label
        htmlFor={id}
        className={required ? "field__label field__label--required" : "field__label"}
      >
        {label}
      </label>
      {children({
        id,
        "aria-invalid": error ? true : undefined,
        "aria-describedby": describedBy,
        "aria-required": required || undefined,
      })}
      {hint ? (
        <p id={hintId} className="field__hint">
          {hint}
        </p>
      ) : null}
      {error ? (
        <p id={errorId} className="field__error">
          {error}
        </p>
      ) : null}
    </div>
  );
}

type TextInputAttributes = Pick<
  InputHTMLAttributes<HTMLInputElement>,
  "type" | "autoComplete" | "autoFocus" | "placeholder" | "inputMode" | "readOnly"
>;

/** A labelled text input: the Field with its usual control, for the common case. */
export function TextField({
  value,
  onChange,
  variant,
  label,
  error,
  hint,
  required,
  className,
  ...input
}: Omit<FieldProps, "children"> &
  TextInputAttributes & {
    value: string;
    onChange: (value: string) => void;
    /** `mono` for identifiers (slugs, URLs, commands), `number` for numeric text. */
    variant?: "mono" | "number";
  }) {
  const inputClass =
    variant === "mono" ? "input mono" : variant === "number" ? "input input--number" : "input";
  return (
    <Field
      label={label}
      error={error}
      hint={hint}
      {...(required === undefined ? {} : { required })}
      {...(className === undefined ? {} : { className })}
    >
      {(props) => (
        <input
          {...props}
          {...input}
          className={inputClass}
          value={value}
          onChange={(event) => {
            onChange(event.target.value);
          }}
        />
      )}
    </Field>
  );
}

/** A labelled select whose first option (`value` "") stands for none; options as value/label pairs. */
export function SelectField({
  value,
  onChange,
  emptyLabel,
  options,
  ...field
}: Omit<FieldProps, "children"> & {
  value: string;
  onChange: (value: string) => void;
  /** The label of the "nothing chosen" option; without it a value must be chosen. */
  emptyLabel?: string;
  options: readonly (readonly [value: string, label: string])[];
}) {
  return (
    <Field {...field}>
      {(props) => (
        <select
          {...props}
          className="input"
          value={value}
          onChange={(event) => {
            onChange(event.target.value);
          }}
        >
          {emptyLabel === undefined ? null : <option value="">{emptyLabel}</option>}
          {options.map(([optionValue, optionLabel]) => (
            <option key={optionValue} value={optionValue}>
              {optionLabel}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}

/**
 * A list filter: a labelled select whose first option (`value` "") means no filter. Options come
 * as pairs so lists of records and fixed choices read the same.
 */
export function FilterSelect({
  label,
  value,
  onChange,
  options,
  allLabel = "Any",
}: {
  label: string;
  value: string;
  onChange: (value: string) => void;
  options: readonly (readonly [value: string, label: string])[];
  allLabel?: string;
}) {
  const id = useId();
  return (
    <div className="field field--inline">
      <label htmlFor={id} className="field__label">
        {label}
      </label>
      <select
        id={id}
        className="input"
        value={value}
        onChange={(event) => {
          onChange(event.target.value);
        }}
      >
        <option value="">{allLabel}</option>
        {options.map(([optionValue, optionLabel]) => (
          <option key={optionValue} value={optionValue}>
            {optionLabel}
          </option>
        ))}
      </select>
    </div>
  );
}

/** A checkbox with its label on the right, for flags. */
export function Checkbox({
  label,
  checked,
  onChange,
  disabled,
  hint,
}: {
  label: ReactNode;
  checked: boolean;
  onChange: (checked: boolean) => void;
  disabled?: boolean;
  hint?: ReactNode;
}) {
  const id = useId();
  return (
    <div className="field field--check">
      <input
        id={id}
        type="checkbox"
        checked={checked}
        disabled={disabled}
        aria-describedby={hint ? `${id}-hint` : undefined}
        onChange={(event) => {
          onChange(event.target.checked);
        }}
      />
      <label htmlFor={id}>{label}</label>
      {hint ? (
        <p id={`${id}-hint`} className="field__hint">
          {hint}
        </p>
      ) : null}
    </div>
  );
}

/** An on/off switch (a checkbox with the switch role) for enabling things in tables. */
export function Switch({
  checked,
  onChange,
  label,
  disabled,
}: {
  checked: boolean;
  onChange: (checked: boolean) => void;
  label: string;
  disabled?: boolean;
}) {
  return (
    <label className="switch">
      <input
        type="checkbox"
        role="switch"
        aria-label={label}
        checked={checked}
        disabled={disabled}
        onChange={(event) => {
          onChange(event.target.checked);
        }}
      />
      <span className="switch__track" aria-hidden="true" />
    </label>
  );
}

/** An enabled flag in a table: a switch for who may change it, a badge for everyone else. */
export function EnabledSwitch({
  editable,
  name,
  enabled,
  busy,
  onChange,
}: {
  editable: boolean;
  /** What is enabled, for the switch's accessible name. */
  name: string;
  enabled: boolean;
  busy: boolean;
  onChange: (enabled: boolean) => void;
}) {
  if (!editable)
    return <Badge tone={enabled ? "green" : "neutral"}>{enabled ? "enabled" : "disabled"}</Badge>;
  return <Switch label={`${name} enabled`} checked={enabled} disabled={busy} onChange={onChange} />;
}

/**
 * The name and slug of a record being created: the name required and focused, the slug optional
 * (the server derives it from the name when it is empty).
 */
export function NameAndSlugFields({
  name,
  slug,
  onNameChange,
  onSlugChange,
  errors,
  slugHint,
  slugPlaceholder,
}: {
  name: string;
  slug: string;
  onNameChange: (value: string) => void;
  onSlugChange: (value: string) => void;
  errors: { name?: string | undefined; slug?: string | undefined };
  slugHint: ReactNode;
  slugPlaceholder?: string;
}) {
  return (
    <>
      <TextField
        label="Name"
        error={errors.name}
        required
        value={name}
        autoFocus
        onChange={onNameChange}
      />
      <TextField
        label="Slug"
        error={errors.slug}
        hint={slugHint}
        variant="mono"
        value={slug}
        {...(slugPlaceholder === undefined ? {} : { placeholder: slugPlaceholder })}
        onChange={onSlugChange}
      />
    </>
  );
}
