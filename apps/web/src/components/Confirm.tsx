import {
  createContext,
  lazy,
  Suspense,
  useCallback,
  useContext,
  useMemo,
  useState,
  type ReactNode,
} from "react";

// The dialog (and the text field it may ask the name in) loads on the first confirmation, not
// with the shell every page waits for.
const ConfirmDialog = lazy(() => import("./ConfirmDialog"));

export interface ConfirmOptions {
  title: string;
  body: ReactNode;
  confirmLabel?: string;
  danger?: boolean;
  /**
   * For what cannot be undone and is easy to mistake for something else: the confirm button
   * stays disabled until this (the thing's name) is typed.
   */
  typeToConfirm?: string;
  /**
   * Runs when confirmed; the dialog stays open (showing the error) if it throws. It may open
   * another confirmation (`useConfirm`), which then takes this one's place.
   */
  action: () => Promise<unknown>;
}

type Confirm = (options: ConfirmOptions) => void;

const ConfirmContext = createContext<Confirm | null>(null);

export function ConfirmProvider({ children }: { children: ReactNode }) {
  const [options, setOptions] = useState<ConfirmOptions | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [typed, setTyped] = useState("");

  const confirm = useCallback<Confirm>((next) => {
    setError(null);
    setBusy(false);
    setTyped("");
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
      // Closed unless the action opened a follow-up confirmation.
      setOptions((current) => (current === options ? null : current));
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
      {options ? (
        <Suspense fallback={null}>
          <ConfirmDialog
            options={options}
            busy={busy}
            error={error}
            typed={typed}
            onType={setTyped}
            onClose={close}
            onConfirm={() => {
              void run();
            }}
          />
        </Suspense>
      ) : null}
    </ConfirmContext.Provider>
  );
}

export function useConfirm(): Confirm {
  const confirm = useContext(ConfirmContext);
  if (!confirm) throw new Error("useConfirm outside ConfirmProvider");
  return confirm;
}
