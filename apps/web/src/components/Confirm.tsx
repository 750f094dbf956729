import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from "react";
import { Button } from "./Button";
import { Dialog } from "./Dialog";
import { FormError } from "./States";

export interface ConfirmOptions {
  title: string;
  body: ReactNode;
  confirmLabel?: string;
  danger?: boolean;
  /** Runs when confirmed; the dialog stays open (showing the error) if it throws. */
  action: () => Promise<unknown>;
}

type Confirm = (options: ConfirmOptions) => void;

const ConfirmContext = createContext<Confirm | null>(null);

export function ConfirmProvider({ children }: { children: ReactNode }) {
  const [options, setOptions] = useState<ConfirmOptions | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const confirm = useCallback<Confirm>((next) => {
    setError(null);
    setBusy(false);
    setOptions(next);
  }, []);

  const close = () => {
    if (!busy) setOptions(null);
  };

  const run = async () => {
    if (!options) return;
    setBusy(true);
    setError(null);
    try {
      await options.action();
      setOptions(null);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };

  const value = useMemo(() => confirm, [confirm]);
  return (
    <ConfirmContext.Provider value={value}>
      {children}
      <Dialog
        open={options !== null}
        onClose={close}
        size="sm"
        role="alertdialog"
        title={options?.title ?? ""}
        footer={
          <>
            <Button onClick={close} disabled={busy}>
              Cancel
            </Button>
            <Button
              variant={options?.danger === false ? "primary" : "danger"}
              busy={busy}
              onClick={() => {
                void run();
              }}
            >
              {options?.confirmLabel ?? "Delete"}
            </Button>
          </>
        }
      >
        <div className="confirm__body">{options?.body}</div>
        <FormError error={error} />
      </Dialog>
    </ConfirmContext.Provider>
  );
}

export function useConfirm(): Confirm {
  const confirm = useContext(ConfirmContext);
  if (!confirm) throw new Error("useConfirm outside ConfirmProvider");
  return confirm;
}
