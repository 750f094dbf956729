import { changePasswordInput } from "@mcp/api/contracts";
import { useMutation } from "@tanstack/react-query";
import { useState, type SubmitEvent } from "react";
import { Button } from "../../components/Button";
import { TextField } from "../../components/Field";
import { FormError } from "../../components/States";
import { useToast } from "../../components/Toast";
import { fieldErrorsOf, validate, type FieldErrors } from "../../lib/errors";
import { queryClient, trpc } from "../../lib/trpc";

/** Changes the signed-in user's password; every other session of theirs ends (the server's rule). */
export function ChangePassword() {
  const toast = useToast();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [confirmation, setConfirmation] = useState("");
  const [errors, setErrors] = useState<FieldErrors>({});
  const change = useMutation(
    trpc.auth.changePassword.mutationOptions({
      onSuccess: async ({ sessions_ended: ended }) => {
        setCurrent("");
        setNext("");
        setConfirmation("");
        await queryClient.invalidateQueries(trpc.auth.sessions.pathFilter());
        toast(
          ended === 0
            ? "Password changed"
            : `Password changed; ${ended === 1 ? "1 other session" : `${ended} other sessions`} ended`,
        );
      },
      onError: (error) => {
        setErrors(fieldErrorsOf(error));
      },
    }),
  );
  const submit = (event: SubmitEvent) => {
    event.preventDefault();
    const parsed = validate(changePasswordInput, {
      current_password: current,
      new_password: next,
      new_password_confirm: confirmation,
    });
    if (!parsed.ok) {
      setErrors(parsed.errors);
      return;
    }
    setErrors({});
    change.mutate(parsed.data);
  };
  return (
    <form className="card" onSubmit={submit} noValidate aria-labelledby="change-password-title">
      <h2 id="change-password-title">Change password</h2>
      <p className="muted">Every other session of your account ends; this one stays signed in.</p>
      <FormError error={change.error} shownAtFields={errors} />
      <TextField
        label="Current password"
        type="password"
        autoComplete="current-password"
        required
        error={errors.current_password}
        value={current}
        onChange={setCurrent}
      />
      <TextField
        label="New password"
        type="password"
        autoComplete="new-password"
        required
        error={errors.new_password}
        hint="At least 12 characters, not a common password."
        value={next}
        onChange={setNext}
      />
      <TextField
        label="Confirm new password"
        type="password"
        autoComplete="new-password"
        required
        error={errors.new_password_confirm}
        value={confirmation}
        onChange={setConfirmation}
      />
      <Button type="submit" variant="primary" busy={change.isPending}>
        Change password
      </Button>
    </form>
  );
}
