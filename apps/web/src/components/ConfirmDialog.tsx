import { Button } from "./Button";
import type { ConfirmOptions } from "./Confirm";
import { Dialog } from "./Dialog";
import { TextField } from "./Field";
import { FormError } from "./States";

/** The confirmation ConfirmProvider shows; the provider holds its state. */
export default function ConfirmDialog({
  options,
  busy,
  error,
  typed,
  onType,
  onClose,
  onConfirm,
}: {
  options: ConfirmOptions;
  busy: boolean;
  error: unknown;
  typed: string;
  onType: (typed: string) => void;
  onClose: () => void;
  onConfirm: () => void;
}) {
  const expected = options.typeToConfirm;
  const typedOk = expected === undefined || typed === expected;
  return (
    <Dialog
      open
      onClose={onClose}
      size="sm"
      role="alertdialog"
      title={options.title}
      footer={
        <>
          <Button onClick={onClose} disabled={busy}>
            Cancel
          </Button>
          <Button
            variant={options.danger === false ? "primary" : "danger"}
            busy={busy}
            disabled={!typedOk}
            onClick={onConfirm}
          >
            {options.confirmLabel ?? "Delete"}
          </Button>
        </>
      }
    >
      <div className="confirm__body">{options.body}</div>
      {expected === undefined ? null : (
        <TextField
          label={`Type “${expected}” to confirm`}
          value={typed}
          onChange={onType}
          autoComplete="off"
        />
      )}
      <FormError error={error} />
    </Dialog>
  );
}
