import {
  CONNECTION_AUTHS,
  CONNECTION_TIMEOUT_DEFAULT_MS,
  CONNECTION_TIMEOUT_MAX_MS,
  CONNECTION_TIMEOUT_MIN_MS,
  createConnectionInput,
  OAUTH_CREDENTIAL_MODES,
  SYNC_INTERVAL_MAX_MINUTES,
  SYNC_INTERVAL_MIN_MINUTES,
  TRANSPORTS,
} from "@mcp/api/contracts";
import type { Connection } from "../../lib/api";
import { useMutation } from "@tanstack/react-query";
import { useState, type SubmitEvent } from "react";
import { Badge } from "../../components/Badge";
import { FormDialog } from "../../components/FormDialog";
import { Checkbox, Field, NameAndSlugFields, SelectField, TextField } from "../../components/Field";
import {
  KeyValueEditor,
  recordFromRows,
  rowsFromRecord,
  type KeyValueRow,
} from "../../components/ListEditors";
import { useToast } from "../../components/Toast";
import { useOrg } from "../../layout/org-context";
import { validate, type FieldErrors } from "../../lib/errors";
import { formatNumber } from "../../lib/format";
import { useFormSave } from "../../lib/hooks";
import { useEnvironments, useStdioServers } from "../../lib/queries";
import { trpc } from "../../lib/trpc";

type Transport = (typeof TRANSPORTS)[number];
type Auth = (typeof CONNECTION_AUTHS)[number];
type CredentialMode = (typeof OAUTH_CREDENTIAL_MODES)[number];

const AUTH_LABELS: Record<Auth, string> = {
  none: "None",
  headers: "Secret headers (e.g. an API key)",
  oauth: "OAuth (the server's authorization server)",
};

const CREDENTIAL_MODE_LABELS: Record<CredentialMode, string> = {
  shared: "Shared: one account for the organization, connected by an admin",
  per_user: "Per user: each member connects their own account",
};

const TRANSPORT_LABELS: Record<Transport, string> = {
  streamable_http: "Streamable HTTP",
  sse: "HTTP + SSE (legacy)",
  stdio: "stdio (a server the operator declared)",
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
  const stdioServers = useStdioServers(org.id);
  const toast = useToast();
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
  const [stdioServerId, setStdioServerId] = useState(connection?.stdio_server ?? "");
  const [timeout, setTimeoutMs] = useState(connection ? String(connection.timeout_ms) : "");
  const [allowSampling, setAllowSampling] = useState(connection?.allow_sampling ?? true);
  const [allowElicitation, setAllowElicitation] = useState(connection?.allow_elicitation ?? true);
  const [allowTasks, setAllowTasks] = useState(connection?.allow_tasks ?? true);
  const [syncInterval, setSyncInterval] = useState(
    connection?.sync_interval_minutes == null ? "" : String(connection.sync_interval_minutes),
  );
  const [secretMode, setSecretMode] = useState<SecretMode>(editing ? "keep" : "replace");
  const [secretHeaders, setSecretHeaders] = useState<KeyValueRow[]>([]);
  const [variables, setVariables] = useState<Record<string, string>>({});
  // A new connection offers its secret headers (optional) first, as before auth modes existed.
  const [auth, setAuth] = useState<Auth>(connection?.auth ?? "headers");
  const [credentialMode, setCredentialMode] = useState<CredentialMode>(
    connection?.oauth?.credential_mode ?? "shared",
  );
  const [clientId, setClientId] = useState(connection?.oauth?.client_id ?? "");
  const [clientSecret, setClientSecret] = useState("");
  const [scope, setScope] = useState(connection?.oauth?.scope ?? "");
  // Any change to auth or its OAuth settings drops the stored tokens, so an untouched form sends none.
  const [authTouched, setAuthTouched] = useState(!editing);
  const [errors, setErrors] = useState<FieldErrors>({});
  const touchAuth =
    <T,>(set: (value: T) => void) =>
    (value: T) => {
      set(value);
      setAuthTouched(true);
    };

  const isHttp = transport !== "stdio";
  const stdioServer = stdioServers.data?.results.find((server) => server.id === stdioServerId);

  const save = useFormSave<Connection>({
    invalidate: trpc.connections.pathFilter(),
    setErrors,
    onClose,
    onSaved,
  });
  const create = useMutation(trpc.connections.create.mutationOptions(save.create));
  const update = useMutation(
    trpc.connections.update.mutationOptions({
      ...save.update,
      onSuccess: async (saved) => {
        await save.update.onSuccess(saved);
        if (saved.secret_cleared)
          toast(
            `The secret of ${saved.name} was removed because its destination changed; set it again`,
            "info",
          );
      },
    }),
  );
  const mutation = editing ? update : create;

  const submit = (event: SubmitEvent) => {
    event.preventDefault();
    const secretValues = isHttp
      ? recordFromRows(secretHeaders)
      : Object.fromEntries(
          (stdioServer?.env ?? [])
            .map((variable) => [variable, variables[variable] ?? ""] as const)
            .filter(([, value]) => value !== ""),
        );
    const secretRecord = isHttp ? { headers: secretValues } : { env: secretValues };
    const secretEmpty = Object.keys(secretValues).length === 0;
    const usesSecret = !isHttp || auth === "headers";
    // Switching a connection away from secret headers removes the secret it no longer uses.
    const secret = !usesSecret
      ? authTouched && connection?.has_secret
        ? null
        : undefined
      : secretMode === "remove"
        ? null
        : secretMode === "replace" && (!secretEmpty || editing)
          ? secretRecord
          : undefined;
    // A new connection without OAuth leaves auth to the server: headers when a secret is given.
    const authFields =
      isHttp && authTouched && (editing || auth === "oauth")
        ? {
            auth,
            oauth:
              auth === "oauth"
                ? {
                    credential_mode: credentialMode,
                    client_id: clientId.trim() || undefined,
                    client_secret: clientSecret || undefined,
                    scope: scope.trim() || undefined,
                  }
                : undefined,
          }
        : {};
    const timeoutText = timeout.trim();
    const syncIntervalText = syncInterval.trim();
    const payload = {
      name,
      slug: slug.trim() === "" ? undefined : slug,
      description,
      environment_id: environmentId === "" ? null : environmentId,
      transport,
      // The other transport's fields are cleared so a switched connection keeps no stale target.
      url: isHttp ? url.trim() || null : null,
      headers: isHttp ? recordFromRows(headers) : {},
      stdio_server: isHttp ? null : stdioServerId || null,
      timeout_ms: timeoutText === "" ? undefined : Number(timeoutText),
      allow_sampling: allowSampling,
      allow_elicitation: allowElicitation,
      allow_tasks: allowTasks,
      sync_interval_minutes: syncIntervalText === "" ? null : Number(syncIntervalText),
      secret,
      ...authFields,
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
      fieldErrors={errors}
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
          hint={`${formatNumber(CONNECTION_TIMEOUT_MIN_MS)} to ${formatNumber(CONNECTION_TIMEOUT_MAX_MS)}; default ${formatNumber(CONNECTION_TIMEOUT_DEFAULT_MS)}.`}
          variant="number"
          inputMode="numeric"
          value={timeout}
          placeholder={String(CONNECTION_TIMEOUT_DEFAULT_MS)}
          onChange={setTimeoutMs}
        />
      </div>
      <TextField
        label="Scheduled sync (minutes)"
        error={errors.sync_interval_minutes}
        hint={`Sync the tools this often, so a changed tool definition is quarantined without anyone pressing Sync; ${formatNumber(SYNC_INTERVAL_MIN_MINUTES)} to ${formatNumber(SYNC_INTERVAL_MAX_MINUTES)}. Empty: only on request.`}
        variant="number"
        inputMode="numeric"
        value={syncInterval}
        placeholder="Off"
        onChange={setSyncInterval}
      />
      <Checkbox
        label="Allow sampling"
        hint="The server may ask the calling MCP client for an LLM completion during a tool call."
        checked={allowSampling}
        onChange={setAllowSampling}
      />
      <Checkbox
        label="Allow elicitation"
        hint="The server may ask the calling MCP client's user for input during a tool call."
        checked={allowElicitation}
        onChange={setAllowElicitation}
      />
      <Checkbox
        label="Allow tasks"
        hint="MCP clients may run this server's tools as tasks: in the background, past the HTTP request, polled and cancelled from any replica."
        checked={allowTasks}
        onChange={setAllowTasks}
      />

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
        <SelectField
          label="Stdio server"
          error={errors.stdio_server}
          required
          hint={
            stdioServer
              ? `${stdioServer.description}${stdioServer.sandboxed ? " Runs sandboxed." : ""}`
              : stdioServers.data?.results.length === 0
                ? "No stdio servers are declared on this platform (MCP_STDIO_SERVERS)."
                : "The programs this platform may start are declared by its operator."
          }
          value={stdioServerId}
          onChange={setStdioServerId}
          emptyLabel="Choose a server"
          options={(stdioServers.data?.results ?? []).map(
            (server) => [server.id, server.name] as const,
          )}
        />
      )}

      {isHttp ? (
        <Field
          label="Authentication"
          error={errors.auth}
          hint={
            editing && connection.auth === "oauth"
              ? "Changing authentication or its OAuth settings removes the tokens already connected."
              : undefined
          }
        >
          {(props) => (
            <select
              {...props}
              className="input"
              value={auth}
              onChange={(event) => {
                touchAuth(setAuth)(event.target.value as Auth);
              }}
            >
              {CONNECTION_AUTHS.map((option) => (
                <option key={option} value={option}>
                  {AUTH_LABELS[option]}
                </option>
              ))}
            </select>
          )}
        </Field>
      ) : null}

      {isHttp && auth === "oauth" ? (
        <fieldset className="secret">
          <legend>OAuth</legend>
          <p className="field__hint">
            After saving, Connect sends you to the server&apos;s sign-in page; the tokens it issues
            are stored encrypted and refreshed by the platform.
          </p>
          <SelectField
            label="Credential"
            error={errors["oauth.credential_mode"] ?? errors.oauth}
            required
            value={credentialMode}
            onChange={touchAuth((value: string) => {
              setCredentialMode(value as CredentialMode);
            })}
            options={OAUTH_CREDENTIAL_MODES.map(
              (mode) => [mode, CREDENTIAL_MODE_LABELS[mode]] as const,
            )}
          />
          <TextField
            label="Scope"
            error={errors["oauth.scope"]}
            hint="Space-separated scopes to request; empty: the server's default."
            variant="mono"
            value={scope}
            onChange={touchAuth(setScope)}
          />
          <div className="form-row">
            <TextField
              label="Client ID"
              error={errors["oauth.client_id"]}
              hint="Only if the server issued one for the platform; empty: dynamic registration."
              variant="mono"
              autoComplete="off"
              value={clientId}
              onChange={touchAuth(setClientId)}
            />
            <TextField
              label="Client secret"
              error={errors["oauth.client_secret"]}
              hint={
                editing && connection.oauth?.client_registration === "manual"
                  ? "Write-only: enter it again when you change the OAuth settings."
                  : "Write-only, stored encrypted. Empty for a public client."
              }
              variant="mono"
              type="password"
              autoComplete="off"
              value={clientSecret}
              onChange={touchAuth(setClientSecret)}
            />
          </div>
        </fieldset>
      ) : null}

      {!isHttp || auth === "headers" ? (
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
            ) : stdioServer && stdioServer.env.length > 0 ? (
              stdioServer.env.map((variable) => (
                <TextField
                  key={variable}
                  label={variable}
                  error={errors[`secret.env.${variable}`]}
                  variant="mono"
                  type="password"
                  autoComplete="off"
                  value={variables[variable] ?? ""}
                  onChange={(value) => {
                    setVariables((current) => ({ ...current, [variable]: value }));
                  }}
                />
              ))
            ) : (
              <p className="muted">
                {stdioServer ? "This server takes no variables." : "Choose a server first."}
              </p>
            )
          ) : null}
        </fieldset>
      ) : null}
    </FormDialog>
  );
}
