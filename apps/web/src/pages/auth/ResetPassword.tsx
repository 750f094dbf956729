import { passwordResetInput } from "@mcp/api/contracts";
import { useMutation } from "@tanstack/react-query";
import { useState, type SubmitEvent } from "react";
import { Link, useNavigate } from "react-router";
import { Button } from "../../components/Button";
import { TextField } from "../../components/Field";
import { FormError } from "../../components/States";
import { fieldErrorsOf, validate, type FieldErrors } from "../../lib/errors";
import { forgetLinkToken, takeLinkToken } from "../../lib/link-token";
import { queryClient, trpc } from "../../lib/trpc";

const TOKEN_KEY = "reset-token";

export default function ResetPassword() {
  const [token] = useState(() => takeLinkToken(TOKEN_KEY));
  const [values, setValues] = useState({ password: "", password_confirm: "" });
  const [errors, setErrors] = useState<FieldErrors>({});
  const navigate = useNavigate();
  const reset = useMutation(
    trpc.auth.resetPassword.mutationOptions({
      onSuccess: async (result) => {
        forgetLinkToken(TOKEN_KEY);
        queryClient.setQueryData(trpc.auth.me.queryKey(), result.user);
        await navigate("/", { replace: true });
      },
      onError: (error) => {
        setErrors(fieldErrorsOf(error));
      },
    }),
  );
  const submit = (event: SubmitEvent) => {
    event.preventDefault();
    const parsed = validate(passwordResetInput, { token: token ?? "", ...values });
    if (!parsed.ok) {
      setErrors(parsed.errors);
      return;
    }
    setErrors({});
    reset.mutate(parsed.data);
  };

  return (
    <form className="card auth__card" onSubmit={submit} noValidate aria-labelledby="reset-title">
      <h1 id="reset-title">Choose a new password</h1>
      <p className="muted">This signs your account out everywhere else.</p>
      <FormError error={reset.error} shownAtFields={errors} />
      {errors.token || !token ? (
        <p role="alert" className="text-danger">
          {errors.token ?? "This page needs the whole link from the message."}{" "}
          <Link to="/forgot-password">Ask for a new link</Link>
        </p>
      ) : null}
      <TextField
        label="New password"
        error={errors.password}
        hint="12 to 128 characters; not a common password."
        required
        type="password"
        autoComplete="new-password"
        value={values.password}
        onChange={(password) => {
          setValues((current) => ({ ...current, password }));
        }}
      />
      <TextField
        label="Confirm new password"
        error={errors.password_confirm}
        required
        type="password"
        autoComplete="new-password"
        value={values.password_confirm}
        onChange={(confirm) => {
          setValues((current) => ({ ...current, password_confirm: confirm }));
        }}
      />
      <Button type="submit" variant="primary" busy={reset.isPending} className="btn--block">
        Set password and sign in
      </Button>
    </form>
  );
}
