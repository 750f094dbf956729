import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll } from "vitest";
import { launchBrowser } from "./browser";
import { startTestServer, webDir, type TestServer } from "./server";

const failures = join(webDir, "test-results");

/* What the browser specs share: users, contexts, navigation, and API calls made as the page's user. */

export interface User {
  email: string;
  password: string;
  first: string;
  last: string;
}

// Unique per run, so a run against an existing server (E2E_BASE_URL) does not collide with the last.
export const RUN = Date.now().toString(36);

export function newUser(first: string, last: string, password = "correct horse battery"): User {
  return { email: `${first.toLowerCase()}.${RUN}@example.com`, password, first, last };
}

export async function newContext(browser: Browser, baseUrl: string): Promise<BrowserContext> {
  const context = await browser.newContext({
    viewport: { width: 1440, height: 900 },
    baseURL: baseUrl,
  });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: baseUrl });
  return context;
}

/** Collects uncaught page errors and CSP violations (which the SPA must not cause) into `errors`. */
export function watch(target: Page, errors: string[]): void {
  target.on("pageerror", (error) => {
    errors.push(error.message);
  });
  target.on("console", (message) => {
    if (message.type() === "error" && message.text().includes("Content Security Policy"))
      errors.push(message.text());
  });
}

export async function nav(target: Page, label: string): Promise<void> {
  await target
    .getByRole("navigation", { name: "Main" })
    .getByRole("link", { name: label, exact: true })
    .click();
  await target.getByRole("heading", { level: 1, name: label }).waitFor();
}

export async function register(target: Page, user: User): Promise<void> {
  await target.goto("/signup");
  await target.getByLabel("First name").fill(user.first);
  await target.getByLabel("Last name").fill(user.last);
  await target.getByLabel("Email").fill(user.email);
  await target.getByLabel("Password", { exact: true }).fill(user.password);
  await target.getByLabel("Confirm password").fill(user.password);
  await target.getByRole("button", { name: "Create account" }).click();
}

/**
 * One tRPC call from inside the page, with its session cookie and origin, as the SPA makes it:
 * setting data up this way is quicker than clicking through forms a spec does not test.
 */
export async function api<T>(
  target: Page,
  path: string,
  input: unknown,
  kind: "query" | "mutation" = "mutation",
): Promise<T> {
  const outcome = await target.evaluate(
    async ({ path, input, kind }) => {
      const url =
        kind === "query"
          ? `/trpc/${path}?input=${encodeURIComponent(JSON.stringify(input))}`
          : `/trpc/${path}`;
      const response = await fetch(url, {
        method: kind === "query" ? "GET" : "POST",
        headers: { "content-type": "application/json" },
        ...(kind === "query" ? {} : { body: JSON.stringify(input) }),
      });
      return { status: response.status, body: (await response.json()) as unknown };
    },
    { path, input, kind },
  );
  const body = outcome.body as { result?: { data: T }; error?: unknown };
  if (outcome.status !== 200 || !body.result)
    throw new Error(`${path} answered ${outcome.status}: ${JSON.stringify(body.error)}`);
  return body.result.data;
}

export interface BrowserSuite {
  baseUrl: string;
  browser: Browser;
  /** The first user's page, made before the tests run. */
  page: Page;
  /** Uncaught errors and CSP violations seen on watched pages. */
  errors: string[];
  /** Another signed-out browser profile, its page watched. */
  newPage: () => Promise<{ context: BrowserContext; page: Page }>;
}

/**
 * Registers the hooks a browser spec needs: the real server (or `E2E_BASE_URL`), Debian's chromium
 * and one watched page; a failed test leaves a screenshot in test-results/. `env`: more of the
 * server's environment, read when it starts (after the spec's own earlier beforeAll hooks).
 */
export function browserSuite(options: { env?: () => Record<string, string> } = {}): BrowserSuite {
  let server: TestServer | null = null;
  const suite = { errors: [] as string[] } as BrowserSuite;
  suite.newPage = async () => {
    const context = await newContext(suite.browser, suite.baseUrl);
    const page = await context.newPage();
    watch(page, suite.errors);
    return { context, page };
  };
  beforeAll(async () => {
    mkdirSync(failures, { recursive: true });
    const external = process.env.E2E_BASE_URL;
    if (external) {
      suite.baseUrl = external;
    } else {
      server = await startTestServer(options.env?.());
      suite.baseUrl = server.baseUrl;
    }
    suite.browser = await launchBrowser();
    suite.page = (await suite.newPage()).page;
  });
  afterEach(async (context) => {
    if (context.task.result?.state === "fail") {
      const name = context.task.name.replace(/[^a-z0-9]+/gi, "-").slice(0, 60);
      await suite.page
        .screenshot({ path: join(failures, `${name}.png`), fullPage: true })
        .catch(() => undefined);
    }
  });
  afterAll(async () => {
    await suite.browser.close();
    await server?.stop();
  });
  return suite;
}

/**
 * Signs `owner` up on the suite's first page and makes an organization named `name` with the
 * platform's demo MCP server connected and synced: the start of most governance tests.
 */
export async function demoOrg(
  suite: BrowserSuite,
  owner: User,
  name: string,
): Promise<{ orgId: string; toolId: (toolName: string) => string }> {
  const { page } = suite;
  await register(page, owner);
  await page.waitForURL(/\/orgs\/new/);
  const org = await api<{ id: string }>(page, "orgs.create", {
    name,
    slug: `${name.toLowerCase().replace(/[^a-z0-9]+/g, "-")}-${RUN}`,
  });
  const connection = await api<{ id: string }>(page, "connections.create", {
    org_id: org.id,
    name: "Demo",
    transport: "streamable_http",
    url: `${suite.baseUrl}/demo/mcp`,
  });
  await api(page, "connections.sync", { id: connection.id });
  const tools = await api<{ results: { id: string; name: string }[] }>(
    page,
    "tools.list",
    { org_id: org.id, limit: 200 },
    "query",
  );
  return {
    orgId: org.id,
    toolId: (toolName) => {
      const tool = tools.results.find((candidate) => candidate.name === toolName);
      if (!tool) throw new Error(`the demo server has no ${toolName} tool`);
      return tool.id;
    },
  };
}
