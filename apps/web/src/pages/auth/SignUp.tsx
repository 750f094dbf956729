import { registerInput } from "@mcp/api/contracts";
import { useMutation } from "@tanstack/react-query";
import { useState, type SubmitEvent } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { Button } from "../../components/Button";
import { TextField } from "../../components/Field";
import { FormError } from "../../components/States";
import { safeNext } from "../../layout/AuthGate";
import { fieldErrorsOf, validate, type FieldErrors } from "../../lib/errors";
import { queryClient, trpc } from "../../lib/trpc";

export default function SignUp() {
  const [values, setValues] = useState({
    first_name: "",
    last_name: "",
    email: "",
    password: "",
    password_confirm: "",
  });
  const [errors, setErrors] = useState<FieldErrors>({});
  const [params] = useSearchParams();
  const navigate = useNavigate();

  const register = useMutation(
    trpc.auth.register.mutationOptions({
      onSuccess: async (result) => {
        queryClient.setQueryData(trpc.auth.me.queryKey(), result.user);
        await navigate(safeNext(params.get("next")), { replace: true });
      },
      onError: (error) => {
        setErrors(fieldErrorsOf(error));
      },
    }),
  );

  const set = (key: keyof typeof values) => (value: string) => {
    setValues((current) => ({ ...current, [key]: value }));
  };

  const submit = (event: SubmitEvent) => {
    event.preventDefault();
    const parsed = validate(registerInput, {
      ...values,
      first_name: values.first_name || undefined,
      last_name: values.last_name || undefined,
    });
    if (!parsed.ok) {
      setErrors(parsed.errors);
      return;
    }
    setErrors({});
    register.mutate(parsed.data);
  };

  return (
    <form className="card auth__card" onSubmit={submit} noValidate aria-labelledby="signup-title">
      <h1 id="signup-title">Create your account</h1>
      <FormError error={register.error} shownAtFields={errors} />
      <div className="form-row">
        <TextField
          label="First name"
          error={errors.first_name}
          autoComplete="given-name"
          value={values.first_name}
          onChange={set("first_name")}
        />
        <TextField
          label="Last name"
          error={errors.last_name}
          autoComplete="family-name"
          value={values.last_name}
          onChange={set("last_name")}
        />
      </div>
      <TextField
        label="Email"
        error={errors.email}
        required
        type="email"
        autoComplete="email"
        value={values.email}
        onChange={set("email")}
      />
      <TextField
        label="Password"
        error={errors.password}
        hint="12 to 128 characters; not a common password."
        required
        type="password"
        autoComplete="new-password"
        value={values.password}
        onChange={set("password")}
      />
      <TextField
        label="Confirm password"
        error={errors.password_confirm}
        required
        type="password"
        autoComplete="new-password"
        value={values.password_confirm}
        onChange={set("password_confirm")}
      />
      <Button type="submit" variant="primary" busy={register.isPending} className="btn--block">
        Create account
      </Button>
      <p className="auth__switch">
        Already have an account?{" "}
        <Link to={`/signin${params.toString() ? `?${params.toString()}` : ""}`}>Sign in</Link>
      </p>
    </form>
  );
}
