import { passwordResetRequestInput } from "@mcp/api/contracts";
import { useMutation } from "@tanstack/react-query";
import { useState, type SubmitEvent } from "react";
import { Link } from "react-router";
import { Button } from "../../components/Button";
import { TextField } from "../../components/Field";
import { FormError } from "../../components/States";
import { fieldErrorsOf, validate, type FieldErrors } from "../../lib/errors";
import { trpc } from "../../lib/trpc";

export default function ForgotPassword() {
  const [email, setEmail] = useState("");
  const [errors, setErrors] = useState<FieldErrors>({});
  const request = useMutation(
    trpc.auth.requestPasswordReset.mutationOptions({
      onError: (error) => {
        setErrors(fieldErrorsOf(error));
      },
    }),
  );
  const submit = (event: SubmitEvent) => {
    event.preventDefault();
    const parsed = validate(passwordResetRequestInput, { email });
    if (!parsed.ok) {
      setErrors(parsed.errors);
      return;
    }
    setErrors({});
    request.mutate(parsed.data);
  };

  if (request.isSuccess)
    return (
      <div className="card auth__card" role="status">
        <h1>Check your mail</h1>
        {/* The same words whether or not the address has an account. */}
        <p>
          If <strong>{email}</strong> has an account here, a link to choose a new password is on its
          way. It works once, for an hour.
        </p>
        <p className="auth__switch">
          <Link to="/signin">Back to sign in</Link>
        </p>
      </div>
    );
  return (
    <form className="card auth__card" onSubmit={submit} noValidate aria-labelledby="forgot-title">
      <h1 id="forgot-title">Reset your password</h1>
      <p className="muted">We will mail you a link to choose a new one.</p>
      <FormError error={request.error} shownAtFields={errors} />
      <TextField
        label="Email"
        error={errors.email}
        required
        type="email"
        autoComplete="email"
        value={email}
        onChange={setEmail}
      />
      <Button type="submit" variant="primary" busy={request.isPending} className="btn--block">
        Send the link
      </Button>
      <p className="auth__switch">
        <Link to="/signin">Back to sign in</Link>
      </p>
    </form>
  );
}
