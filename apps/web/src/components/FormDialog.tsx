import { useId, type ReactNode, type SubmitEvent } from "react";
import { Button } from "./Button";
import { Dialog } from "./Dialog";
import { FormError } from "./States";

interface FormDialogProps {
  onClose: () => void;
  title: ReactNode;
  description?: ReactNode;
  size?: "sm" | "md" | "lg";
  submitLabel: string;
  busy: boolean;
  /** The mutation's error, shown above the fields (field issues are shown beside each field). */
  error: unknown;
  /** The messages shown beside the fields, so the banner does not repeat them. */
  fieldErrors: Readonly<Record<string, string>>;
  onSubmit: (event: SubmitEvent) => void;
  children: ReactNode;
}

/** A create/edit form in a modal: Cancel and submit in the footer, the server's error on top. */
export function FormDialog({
  onClose,
  title,
  description,
  size,
  submitLabel,
  busy,
  error,
  fieldErrors,
  onSubmit,
  children,
}: FormDialogProps) {
  const formId = useId();
  return (
    <Dialog
      open
      onClose={onClose}
      size={size}
      title={title}
      description={description}
      footer={
        <>
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" form={formId} variant="primary" busy={busy}>
            {submitLabel}
          </Button>
        </>
      }
    >
      <form id={formId} onSubmit={onSubmit} noValidate className="stack">
        <FormError error={error} shownAtFields={fieldErrors} />
        {children}
      </form>
    </Dialog>
  );
}
