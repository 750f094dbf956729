import type { Mailer, MailMessage } from "@mcp/core";
import type { Logger } from "./logger";

/** How long one SMTP exchange may take before the message counts as failed. */
const SMTP_TIMEOUT_MS = 10_000;

/**
 * Mail over SMTP with nodemailer: `smtp://` upgrades with STARTTLS when the server offers it,
 * `smtps://` is TLS from the start; credentials go in the URL. Recipients are logged, bodies never
 * (they carry one-time links). nodemailer is loaded here, only when SMTP is configured: it is a
 * good part of a start otherwise.
 */
export async function smtpMailer(url: string, from: string, logger: Logger): Promise<Mailer> {
  const { createTransport } = await import("nodemailer");
  const transport = createTransport(
    {
      url,
      connectionTimeout: SMTP_TIMEOUT_MS,
      greetingTimeout: SMTP_TIMEOUT_MS,
      socketTimeout: SMTP_TIMEOUT_MS,
    },
    { from },
  );
  const send = async (message: MailMessage): Promise<void> => {
    try {
      await transport.sendMail(message);
      logger.info({ to: message.to, subject: message.subject }, "mail sent");
    } catch (error) {
      logger.warn({ err: error, to: message.to, subject: message.subject }, "mail not sent");
      throw error;
    }
  };
  return {
    send,
    sendInBackground: (message) => {
      send(message).catch(() => {
        // Logged by send; nobody is waiting for the outcome.
      });
    },
  };
}
