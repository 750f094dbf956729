import { useState } from "react";
import { Button } from "./Button";

/** Copies text; where the Clipboard API is unavailable (plain http), falls back to execCommand. */
export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
  const [state, setState] = useState<"idle" | "copied" | "failed">("idle");

  const copy = async () => {
    try {
      if (window.isSecureContext && "clipboard" in navigator) {
        await navigator.clipboard.writeText(text);
      } else {
        legacyCopy(text);
      }
      setState("copied");
    } catch {
      try {
        legacyCopy(text);
        setState("copied");
      } catch {
        setState("failed");
      }
    }
    window.setTimeout(() => {
      setState("idle");
    }, 2000);
  };

  return (
    <Button
      size="sm"
      onClick={() => {
        void copy();
      }}
      aria-live="polite"
    >
      {state === "copied" ? "Copied" : state === "failed" ? "Copy failed" : label}
    </Button>
  );
}

function legacyCopy(text: string): void {
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.appendChild(area);
  area.select();
  // execCommand is deprecated but is the only copy path outside secure contexts (plain http).
  // eslint-disable-next-line @typescript-eslint/no-deprecated
  const ok = document.execCommand("copy");
  area.remove();
  if (!ok) throw new Error("copy failed");
}
