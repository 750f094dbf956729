import type { QueryFilters } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { useToast } from "../components/Toast";
import { fieldErrorsOf, type FieldErrors } from "./errors";
import { queryClient } from "./trpc";

/** `value`, settled for `delay` ms: search boxes query once the user pauses typing. */
export function useDebounced<T>(value: T, delay = 300): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = window.setTimeout(() => {
      setSettled(value);
    }, delay);
    return () => {
      window.clearTimeout(timer);
    };
  }, [value, delay]);
  return settled;
}

/**
 * The callbacks a create/edit form hands to its two mutations: refresh the lists, say what was
 * done, close; or show the server's field errors.
 */
export function useFormSave<Saved extends { name: string }>(options: {
  invalidate: QueryFilters;
  setErrors: (errors: FieldErrors) => void;
  onClose: () => void;
  onSaved?: ((saved: Saved) => void) | undefined;
}) {
  const toast = useToast();
  const { invalidate, setErrors, onClose, onSaved } = options;
  const succeeded = (verb: string) => async (saved: Saved) => {
    await queryClient.invalidateQueries(invalidate);
    toast(`${verb} ${saved.name}`);
    onSaved?.(saved);
    onClose();
  };
  const onError = (error: unknown) => {
    setErrors(fieldErrorsOf(error));
  };
  return {
    create: { onSuccess: succeeded("Created"), onError },
    update: { onSuccess: succeeded("Saved"), onError },
  };
}
