import { loginInput } from "@mcp/api/contracts";
import { useMutation, useQuery } from "@tanstack/react-query";
import { useState, type SubmitEvent } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { Button } from "../../components/Button";
import { TextField } from "../../components/Field";
import { FormError } from "../../components/States";
import { safeNext } from "../../layout/AuthGate";
import { fieldErrorsOf, validate, type FieldErrors } from "../../lib/errors";
import { queryClient, trpc } from "../../lib/trpc";

export default function SignIn() {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [errors, setErrors] = useState<FieldErrors>({});
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const sso = useQuery(trpc.auth.sso.queryOptions());
  const settings = useQuery(trpc.auth.settings.queryOptions());

  const login = useMutation(
    trpc.auth.login.mutationOptions({
      onSuccess: async (result) => {
        queryClient.setQueryData(trpc.auth.me.queryKey(), result.user);
        await navigate(safeNext(params.get("next")), { replace: true });
      },
      onError: (error) => {
        setErrors(fieldErrorsOf(error));
      },
    }),
  );

  const submit = (event: SubmitEvent) => {
    event.preventDefault();
    const parsed = validate(loginInput, { email, password });
    if (!parsed.ok) {
      setErrors(parsed.errors);
      return;
    }
    setErrors({});
    login.mutate(parsed.data);
  };

  return (
    <form className="card auth__card" onSubmit={submit} noValidate aria-labelledby="signin-title">
      <h1 id="signin-title">Sign in</h1>
      <p className="muted">Manage your MCP connections, tools, agents and policies.</p>
      <FormError error={login.error} shownAtFields={errors} />
      <TextField
        label="Email"
        error={errors.email}
        required
        type="email"
        autoComplete="email"
        value={email}
        onChange={setEmail}
      />
      <TextField
        label="Password"
        error={errors.password}
        required
        type="password"
        autoComplete="current-password"
        value={password}
        onChange={setPassword}
      />
      <Button type="submit" variant="primary" busy={login.isPending} className="btn--block">
        Sign in
      </Button>
      {sso.data?.enabled && sso.data.start_url ? (
        <>
          <p className="auth__or">or</p>
          {/* A full navigation: the server redirects to the identity provider. */}
          <a
            className="btn btn--secondary btn--block"
            href={`${sso.data.start_url}?next=${encodeURIComponent(safeNext(params.get("next")))}`}
          >
            Sign in with {sso.data.display_name}
          </a>
        </>
      ) : null}
      {settings.data?.email_enabled ? (
        <p className="auth__switch">
          <Link to="/forgot-password">Forgot your password?</Link>
        </p>
      ) : null}
      <p className="auth__switch">
        New here?{" "}
        <Link to={`/signup${params.toString() ? `?${params.toString()}` : ""}`}>
          Create an account
        </Link>
      </p>
    </form>
  );
}
