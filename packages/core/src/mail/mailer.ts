/** A plain-text message to one recipient; the platform sends nothing richer. */
export interface MailMessage {
  to: string;
  subject: string;
  text: string;
}

/**
 * Outgoing mail. The server implements it over SMTP (`SMTP_URL`); services receive `null` when no
 * SMTP server is configured, and then hand links out only where the caller may see them.
 */
export interface Mailer {
  /** Resolves once the SMTP server accepted the message; rejects (after logging) when it did not. */
  send(message: MailMessage): Promise<void>;
  /**
   * Sends without the caller waiting, failures logged: for answers that must take the same time
   * whether or not a message goes out (a reset request for an unknown address sends none).
   */
  sendInBackground(message: MailMessage): void;
}

/** What became of a message the caller may be told about (an invitation, a verification mail). */
export type MailDelivery = "sent" | "failed" | "not_configured";

export async function deliver(mailer: Mailer | null, message: MailMessage): Promise<MailDelivery> {
  if (!mailer) return "not_configured";
  try {
    await mailer.send(message);
    return "sent";
  } catch {
    // The mailer logged why; the caller reports the outcome (the link is shown to it anyway).
    return "failed";
  }
}
