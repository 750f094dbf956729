import { registerInput } from "@mcp/api/contracts";
import { useMutation, useQuery } from "@tanstack/react-query";
import { useState, type SubmitEvent } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { Button } from "../../components/Button";
import { TextField } from "../../components/Field";
import { FormError } from "../../components/States";
import { safeNext } from "../../layout/AuthGate";
import { fieldErrorsOf, validate, type FieldErrors } from "../../lib/errors";
import { queryClient, trpc } from "../../lib/trpc";

/** An invitation being accepted by signing up: the address is the invited one, fixed. */
export interface SignUpInvitation {
  token: string;
  email: string;
  org_name: string;
}

export default function SignUp({ invitation }: { invitation?: SignUpInvitation }) {
  const [values, setValues] = useState({
    first_name: "",
    last_name: "",
    email: invitation?.email ?? "",
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
        // Through an invitation the new account is already a member: the home page opens its org.
        await navigate(invitation ? "/" : safeNext(params.get("next")), { replace: true });
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
      invitation_token: invitation?.token,
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
      {invitation ? (
        <p className="muted">
          You are joining <strong>{invitation.org_name}</strong>.
        </p>
      ) : (
        <SignupModeNotice />
      )}
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
        readOnly={invitation !== undefined}
        hint={invitation ? "The invited address" : undefined}
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
      {invitation ? null : (
        <p className="auth__switch">
          Already have an account?{" "}
          <Link to={`/signin${params.toString() ? `?${params.toString()}` : ""}`}>Sign in</Link>
        </p>
      )}
    </form>
  );
}

/** Says up front when this platform does not take sign-ups without an invitation. */
function SignupModeNotice() {
  const settings = useQuery(trpc.auth.settings.queryOptions());
  if (!settings.data || settings.data.setup_required) return null;
  if (settings.data.signup_mode === "open") return null;
  return (
    <p className="muted" role="note">
      {settings.data.signup_mode === "invite"
        ? "Accounts here are by invitation: open the link in your invitation to sign up."
        : "Sign-up is closed on this platform; ask its administrator for an account."}
    </p>
  );
}
