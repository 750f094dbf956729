import type { AddressInfo } from "node:net";
import { simpleParser } from "mailparser";
import { SMTPServer } from "smtp-server";

export interface ReceivedMail {
  from: string;
  to: string[];
  subject: string;
  text: string;
}

export interface TestMailServer {
  /** `SMTP_URL` for the platform under test. */
  url: string;
  /**
   * Resolves with the next message to `address` (with `subject`, when given); one already received
   * and not yet taken counts.
   */
  next(address: string, subject?: string): Promise<ReceivedMail>;
  /** Every message received so far, taken or not. */
  all(): ReceivedMail[];
  close(): Promise<void>;
}

/**
 * A real SMTP server in the test process (the `smtp-server` package), accepting any sender and
 * recipient without authentication; each message is parsed with mailparser and handed to whoever
 * waits for its recipient.
 */
export async function startTestMailServer(): Promise<TestMailServer> {
  const received: ReceivedMail[] = [];
  const unclaimed: ReceivedMail[] = [];
  const waiting: {
    wanted: (mail: ReceivedMail) => boolean;
    resolve: (mail: ReceivedMail) => void;
  }[] = [];

  function deliver(mail: ReceivedMail): void {
    received.push(mail);
    const index = waiting.findIndex((waiter) => waiter.wanted(mail));
    const waiter = index === -1 ? undefined : waiting.splice(index, 1)[0];
    if (waiter) waiter.resolve(mail);
    else unclaimed.push(mail);
  }

  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((parsed) => {
          deliver({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
            to: session.envelope.rcptTo.map((rcpt) => rcpt.address.toLowerCase()),
            subject: parsed.subject ?? "",
            text: parsed.text ?? "",
          });
          callback();
        })
        .catch((error: unknown) => {
          callback(error instanceof Error ? error : new Error(String(error)));
        });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.server.address() as AddressInfo;

  return {
    url: `smtp://127.0.0.1:${port}`,
    next(address, subject) {
      const to = address.toLowerCase();
      const wanted = (mail: ReceivedMail) =>
        mail.to.includes(to) && (subject === undefined || mail.subject === subject);
      const index = unclaimed.findIndex(wanted);
      const ready = index === -1 ? undefined : unclaimed.splice(index, 1)[0];
      if (ready) return Promise.resolve(ready);
      return new Promise((resolve) => waiting.push({ wanted, resolve }));
    },
    all: () => [...received],
    close: () =>
      new Promise((resolve) => {
        server.close(() => {
          resolve();
        });
      }),
  };
}

/** The first link in a mail's text to `path` on the platform. */
export function linkIn(mail: ReceivedMail, path: string): string {
  const match = new RegExp(`https?://\\S+${path}#[A-Za-z0-9_-]+`).exec(mail.text);
  if (!match) throw new Error(`no ${path} link in: ${mail.text}`);
  return match[0];
}
