import { SSO_DOMAIN_ROLES, updateOrgSsoSettingsInput } from "@mcp/api/contracts";
import { useMutation, useQuery } from "@tanstack/react-query";
import { useEffect, useId, useState, type SubmitEvent } from "react";
import { Button } from "../../components/Button";
import { Checkbox } from "../../components/Field";
import { ErrorState, FormError, Loading } from "../../components/States";
import { useToast } from "../../components/Toast";
import { useOrg } from "../../layout/org-context";
import type { OrgSsoSettings } from "../../lib/api";
import { fieldErrorsOf, validate, type FieldErrors } from "../../lib/errors";
import { queryClient, trpc } from "../../lib/trpc";

interface DomainRow {
  key: number;
  domain: string;
  role: string;
}

let rowKeys = 0;
const domainRow = (domain = "", role = "member"): DomainRow => {
  rowKeys += 1;
  return { key: rowKeys, domain, role };
};

/**
 * The org's SSO settings (admins read, owners change): SSO only, and the e-mail domains whose
 * users join at SSO sign-in with a role. Only with the platform's identity provider configured.
 */
export function SsoSettings() {
  const { org } = useOrg();
  const info = useQuery(trpc.auth.sso.queryOptions());
  const settings = useQuery(trpc.orgs.sso.get.queryOptions({ org_id: org.id }));
  if (info.isPending || settings.isPending) return <Loading />;
  if (info.isError) return <ErrorState error={info.error} onRetry={() => void info.refetch()} />;
  if (settings.isError)
    return <ErrorState error={settings.error} onRetry={() => void settings.refetch()} />;
  return (
    <SsoForm
      settings={settings.data}
      provider={info.data.enabled ? (info.data.display_name ?? "SSO") : null}
    />
  );
}

function SsoForm({ settings, provider }: { settings: OrgSsoSettings; provider: string | null }) {
  const { org, can } = useOrg();
  const toast = useToast();
  const id = useId();
  const isOwner = can("owner");
  const [ssoOnly, setSsoOnly] = useState(settings.sso_only);
  const [rows, setRows] = useState(() =>
    settings.domain_roles.map((rule) => domainRow(rule.domain, rule.role)),
  );
  const [errors, setErrors] = useState<FieldErrors>({});
  useEffect(() => {
    setSsoOnly(settings.sso_only);
    setRows(settings.domain_roles.map((rule) => domainRow(rule.domain, rule.role)));
  }, [settings]);
  const update = useMutation(
    trpc.orgs.sso.update.mutationOptions({
      onSuccess: async () => {
        toast("Saved the SSO settings");
        await queryClient.invalidateQueries(trpc.orgs.sso.pathFilter());
      },
      onError: (error) => {
        setErrors(fieldErrorsOf(error));
      },
    }),
  );
  const submit = (event: SubmitEvent) => {
    event.preventDefault();
    const parsed = validate(updateOrgSsoSettingsInput, {
      sso_only: ssoOnly,
      domain_roles: rows.map(({ domain, role }) => ({ domain, role })),
    });
    if (!parsed.ok) {
      setErrors(parsed.errors);
      return;
    }
    setErrors({});
    update.mutate({ org_id: org.id, ...parsed.data });
  };
  const changeRow = (key: number, change: Partial<DomainRow>) => {
    setRows((current) => current.map((row) => (row.key === key ? { ...row, ...change } : row)));
  };

  return (
    <form className="card" onSubmit={submit} noValidate aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Single sign-on</h2>
      {provider === null ? (
        <p className="muted">
          This platform has no identity provider (its operator sets{" "}
          <span className="mono">OIDC_ISSUER</span>), so members sign in with their passwords.
        </p>
      ) : (
        <p className="muted">
          Members can sign in with {provider}. Owners can require it and let people of your e-mail
          domains join at their first SSO sign-in.
        </p>
      )}
      <FormError error={update.error} shownAtFields={errors} />
      <Checkbox
        label="SSO only: refuse password sign-in for this organization's members"
        checked={ssoOnly}
        disabled={!isOwner || provider === null}
        onChange={setSsoOnly}
        hint="Applies to every org a member belongs to: one SSO-only org is enough."
      />
      {errors.sso_only ? <p className="field__error">{errors.sso_only}</p> : null}
      <fieldset className="kv">
        <legend>Join by e-mail domain</legend>
        <p className="field__hint">
          Someone signing in with SSO with a verified address at one of these domains joins with its
          role. The domain must be one the platform allows for SSO.
        </p>
        {rows.map((row, index) => (
          <div className="kv__row" key={row.key}>
            <label className="sr-only" htmlFor={`${id}-domain-${row.key}`}>
              {`Domain ${index + 1}`}
            </label>
            <input
              id={`${id}-domain-${row.key}`}
              className="input mono"
              placeholder="example.com"
              value={row.domain}
              readOnly={!isOwner}
              aria-invalid={errors[`domain_roles.${index}.domain`] ? true : undefined}
              onChange={(event) => {
                changeRow(row.key, { domain: event.target.value });
              }}
            />
            <label className="sr-only" htmlFor={`${id}-role-${row.key}`}>
              {`Role for domain ${index + 1}`}
            </label>
            <select
              id={`${id}-role-${row.key}`}
              className="input"
              value={row.role}
              disabled={!isOwner}
              onChange={(event) => {
                changeRow(row.key, { role: event.target.value });
              }}
            >
              {SSO_DOMAIN_ROLES.map((role) => (
                <option key={role} value={role}>
                  {role}
                </option>
              ))}
            </select>
            {isOwner ? (
              <Button
                size="sm"
                variant="ghost"
                aria-label={`Remove domain ${index + 1}`}
                onClick={() => {
                  setRows((current) => current.filter((candidate) => candidate.key !== row.key));
                }}
              >
                Remove
              </Button>
            ) : null}
            {errors[`domain_roles.${index}.domain`] ? (
              <p className="field__error">{errors[`domain_roles.${index}.domain`]}</p>
            ) : null}
          </div>
        ))}
        {errors.domain_roles ? <p className="field__error">{errors.domain_roles}</p> : null}
        {isOwner && provider !== null ? (
          <Button
            size="sm"
            onClick={() => {
              setRows((current) => [...current, domainRow()]);
            }}
          >
            Add domain
          </Button>
        ) : null}
      </fieldset>
      {isOwner && provider !== null ? (
        <Button type="submit" variant="primary" busy={update.isPending}>
          Save SSO settings
        </Button>
      ) : null}
    </form>
  );
}
