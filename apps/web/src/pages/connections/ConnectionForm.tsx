import { createConnectionInput, TRANSPORTS } from "@mcp/api/contracts";
import type { Connection } from "../../lib/api";
import { useMutation } from "@tanstack/react-query";
import { useState, type SubmitEvent } from "react";
import { Badge } from "../../components/Badge";
import { FormDialog } from "../../components/FormDialog";
import { Field, NameAndSlugFields, SelectField, TextField } from "../../components/Field";
import {
  KeyValueEditor,
  listRow,
  recordFromRows,
  rowsFromRecord,
  StringListEditor,
  type KeyValueRow,
  type ListRow,
} from "../../components/ListEditors";
import { useOrg } from "../../layout/org-context";
import { validate, type FieldErrors } from "../../lib/errors";
import { useFormSave } from "../../lib/hooks";
import { useEnvironments } from "../../lib/queries";
import { trpc } from "../../lib/trpc";

type Transport = (typeof TRANSPORTS)[number];

const TRANSPORT_LABELS: Record<Transport, string> = {
  streamable_http: "Streamable HTTP",
  sse: "HTTP + SSE (legacy)",
  stdio: "stdio (local command)",
};

export function transportLabel(transport: Transport): string {
  return TRANSPORT_LABELS[transport];
}

/** What happens to the stored secret on save: secrets are write-only, so "keep" sends nothing. */
type SecretMode = "keep" | "replace" | "remove";

/** Errors under `prefix.` keyed by the rest of the path (a header or variable name). */
function errorsUnder(errors: FieldErrors, prefix: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [path, message] of Object.entries(errors)) {
    if (path.startsWith(`${prefix}.`)) result[path.slice(prefix.length + 1)] = message;
  }
  return result;
}

export function ConnectionFormDialog({
  connection,
  onClose,
  onSaved,
}: {
  connection: Connection | null;
  onClose: () => void;
  onSaved?: (connection: Connection) => void;
}) {
  const { org } = useOrg();
  const environments = useEnvironments(org.id);
  const editing = connection !== null;

  const [name, setName] = useState(connection?.name ?? "");
  const [slug, setSlug] = useState(connection?.slug ?? "");
  const [description, setDescription] = useState(connection?.description ?? "");
  const [environmentId, setEnvironmentId] = useState(connection?.environment_id ?? "");
  const [transport, setTransport] = useState<Transport>(connection?.transport ?? "streamable_http");
  const [url, setUrl] = useState(connection?.url ?? "");
  const [headers, setHeaders] = useState<KeyValueRow[]>(() =>
    rowsFromRecord(connection?.headers ?? {}),
  );
  const [command, setCommand] = useState(connection?.command ?? "");
  const [args, setArgs] = useState<ListRow[]>(() =>
    (connection?.args ?? []).map((arg) => listRow(arg)),
  );
  const [timeout, setTimeoutMs] = useState(connection ? String(connection.timeout_ms) : "");
  const [secretMode, setSecretMode] = useState<SecretMode>(editing ? "keep" : "replace");
  const [secretHeaders, setSecretHeaders] = useState<KeyValueRow[]>([]);
  const [secretEnv, setSecretEnv] = useState<KeyValueRow[]>([]);
  const [errors, setErrors] = useState<FieldErrors>({});

  const isHttp = transport !== "stdio";

  const save = useFormSave<Connection>({
    invalidate: trpc.connections.pathFilter(),
    setErrors,
    onClose,
    onSaved,
  });
  const create = useMutation(trpc.connections.create.mutationOptions(save.create));
  const update = useMutation(trpc.connections.update.mutationOptions(save.update));
  const mutation = editing ? update : create;

  const submit = (event: SubmitEvent) => {
    event.preventDefault();
    const secretValues = recordFromRows(isHttp ? secretHeaders : secretEnv);
    const secretRecord = isHttp ? { headers: secretValues } : { env: secretValues };
    const secretEmpty = Object.keys(secretValues).length === 0;
    const secret =
      secretMode === "remove"
        ? null
        : secretMode === "replace" && (!secretEmpty || editing)
          ? secretRecord
          : undefined;
    const timeoutText = timeout.trim();
    const payload = {
      name,
      slug: slug.trim() === "" ? undefined : slug,
      description,
      environment_id: environmentId === "" ? null : environmentId,
      transport,
      // The other transport's fields are cleared so a switched connection keeps no stale target.
      url: isHttp ? url.trim() || null : null,
      headers: isHttp ? recordFromRows(headers) : {},
      command: isHttp ? null : command.trim() || null,
      args: isHttp ? [] : args.map((row) => row.value),
      timeout_ms: timeoutText === "" ? undefined : Number(timeoutText),
      secret,
    };
    const parsed = validate(createConnectionInput, payload);
    if (!parsed.ok) {
      setErrors(parsed.errors);
      return;
    }
    setErrors({});
    if (connection) update.mutate({ id: connection.id, ...parsed.data });
    else create.mutate({ org_id: org.id, ...parsed.data });
  };

  const existingSecretKeys = connection
    ? isHttp
      ? connection.secret_keys.headers
      : connection.secret_keys.env
    : [];

  return (
    <FormDialog
      onClose={onClose}
      size="lg"
      title={connection ? `Edit ${connection.name}` : "New connection"}
      description="An MCP server the platform connects to. Its tools become available to your agents after a sync."
      submitLabel={connection ? "Save" : "Create connection"}
      busy={mutation.isPending}
      error={mutation.error}
      onSubmit={submit}
    >
      <div className="form-row">
        <NameAndSlugFields
          name={name}
          slug={slug}
          onNameChange={setName}
          onSlugChange={setSlug}
          errors={errors}
          slugHint="Prefixes clashing tool names; derived from the name if empty."
        />
      </div>
      <TextField
        label="Description"
        error={errors.description}
        value={description}
        onChange={setDescription}
      />
      <div className="form-row">
        <Field label="Transport" error={errors.transport} required>
          {(props) => (
            <select
              {...props}
              className="input"
              value={transport}
              onChange={(event) => {
                setTransport(event.target.value as Transport);
              }}
            >
              {TRANSPORTS.map((option) => (
                <option key={option} value={option}>
                  {TRANSPORT_LABELS[option]}
                </option>
              ))}
            </select>
          )}
        </Field>
        <SelectField
          label="Environment"
          error={errors.environment_id}
          value={environmentId}
          onChange={setEnvironmentId}
          emptyLabel="No environment"
          options={(environments.data?.results ?? []).map(
            (environment) => [environment.id, environment.name] as const,
          )}
        />
        <TextField
          label="Timeout (ms)"
          error={errors.timeout_ms}
          hint="100 to 300000; default 30000."
          variant="number"
          inputMode="numeric"
          value={timeout}
          placeholder="30000"
          onChange={setTimeoutMs}
        />
      </div>

      {isHttp ? (
        <>
          <TextField
            label="Server URL"
            error={errors.url}
            required
            hint="The MCP endpoint, e.g. https://mcp.example.com/mcp"
            variant="mono"
            type="url"
            value={url}
            placeholder="https://"
            onChange={setUrl}
          />
          <KeyValueEditor
            legend="Headers"
            hint="Sent with every request. Not secret: they are shown to admins."
            rows={headers}
            onChange={setHeaders}
            keyPlaceholder="X-Header-Name"
            errors={errorsUnder(errors, "headers")}
            error={errors.headers}
            addLabel="Add header"
          />
        </>
      ) : (
        <>
          <TextField
            label="Command"
            error={errors.command}
            required
            hint="Must be on the server's allowlist (MCP_STDIO_ALLOWED_COMMANDS)."
            variant="mono"
            value={command}
            placeholder="npx"
            onChange={setCommand}
          />
          <StringListEditor
            legend="Arguments"
            rows={args}
            onChange={setArgs}
            itemLabel="Argument"
            addLabel="Add argument"
            error={errors.args}
          />
        </>
      )}

      <fieldset className="secret">
        <legend>{isHttp ? "Secret headers" : "Secret environment variables"}</legend>
        <p className="field__hint">
          Stored encrypted and never shown again
          {isHttp ? ", e.g. Authorization" : ", e.g. API tokens"}.
        </p>
        {connection ? (
          <>
            <div className="secret__current">
              {existingSecretKeys.length > 0 ? (
                <>
                  {existingSecretKeys.map((key) => (
                    <Badge key={key} tone="violet">
                      {key}: set
                    </Badge>
                  ))}
                </>
              ) : (
                <span className="muted">None set.</span>
              )}
            </div>
            <div className="radio-row" role="radiogroup" aria-label="Secret values">
              {(["keep", "replace", "remove"] as const).map((mode) => (
                <label key={mode} className="radio">
                  <input
                    type="radio"
                    name="secret-mode"
                    value={mode}
                    checked={secretMode === mode}
                    disabled={mode === "remove" && !connection.has_secret}
                    onChange={() => {
                      setSecretMode(mode);
                    }}
                  />
                  {mode === "keep"
                    ? "Keep as is"
                    : mode === "replace"
                      ? "Replace all"
                      : "Remove all"}
                </label>
              ))}
            </div>
          </>
        ) : null}
        {secretMode === "replace" ? (
          isHttp ? (
            <KeyValueEditor
              legend="Secret header values"
              rows={secretHeaders}
              onChange={setSecretHeaders}
              secret
              keyPlaceholder="Authorization"
              valuePlaceholder="Bearer …"
              errors={errorsUnder(errors, "secret.headers")}
              error={errors["secret.headers"] ?? errors.secret}
              addLabel="Add secret header"
            />
          ) : (
            <KeyValueEditor
              legend="Secret variable values"
              rows={secretEnv}
              onChange={setSecretEnv}
              secret
              keyLabel="Variable"
              keyPlaceholder="API_TOKEN"
              errors={errorsUnder(errors, "secret.env")}
              error={errors["secret.env"] ?? errors.secret}
              addLabel="Add secret variable"
            />
          )
        ) : null}
      </fieldset>
    </FormDialog>
  );
}
