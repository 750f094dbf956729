import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { AppError, createDatabase, createPlatformAdmin } from "@mcp/core";
import { databaseConfig, loadEnv } from "../env";

/**
 * `pnpm admin:create --email <address> [--first-name …] [--last-name …]`: a platform admin account,
 * whatever SIGNUP_MODE says. The password is read from standard input (its first line) when that
 * is not a terminal, else asked for twice without echo; never from the command line, where it
 * would sit in the shell's history and in every process listing.
 */
const USAGE =
  "usage: pnpm admin:create --email <address> [--first-name <name>] [--last-name <name>]\n" +
  "       (the password is read from standard input, or asked for)";

function fail(message: string, code: number): never {
  console.error(message);
  process.exit(code);
}

let options: { email?: string; "first-name"?: string; "last-name"?: string };
try {
  options = parseArgs({
    options: {
      email: { type: "string" },
      "first-name": { type: "string" },
      "last-name": { type: "string" },
    },
    strict: true,
  }).values;
} catch (error) {
  fail(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`, 2);
}
const email = options.email;
if (!email) fail(USAGE, 2);

/** One line typed without echo: the terminal in raw mode, characters collected until Enter. */
function promptHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const input = process.stdin;
    process.stderr.write(question);
    input.setRawMode(true);
    input.resume();
    input.setEncoding("utf8");
    let typed = "";
    const finish = (result: Error | string) => {
      input.setRawMode(false);
      input.pause();
      input.off("data", onData);
      process.stderr.write("\n");
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    const onData = (chunk: string) => {
      for (const character of chunk) {
        if (character === "\r" || character === "\n") {
          finish(typed);
          return;
        }
        if (character === "\u0003") {
          finish(new Error("Cancelled"));
          return;
        }
        if (character === "\u007f" || character === "\b") typed = typed.slice(0, -1);
        else typed += character;
      }
    };
    input.on("data", onData);
  });
}

async function readPassword(): Promise<string> {
  if (process.stdin.isTTY) {
    const first = await promptHidden("Password: ");
    const again = await promptHidden("Password (again): ");
    if (first !== again) fail("The passwords do not match", 1);
    return first;
  }
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    lines.close();
    return line;
  }
  return fail("No password on standard input", 2);
}

const password = await readPassword();
const env = loadEnv();
const database = await createDatabase(databaseConfig(env));
try {
  await database.migrate();
  const user = await createPlatformAdmin(database.db, {
    email,
    password,
    ...(options["first-name"] !== undefined ? { first_name: options["first-name"] } : {}),
    ...(options["last-name"] !== undefined ? { last_name: options["last-name"] } : {}),
  });
  console.log(`Platform admin ${user.email} created (${user.id})`);
} catch (error) {
  if (!(error instanceof AppError)) throw error;
  process.exitCode = 1;
  console.error(error.issues?.map((issue) => issue.message).join("\n") ?? error.message);
} finally {
  await database.close();
}
