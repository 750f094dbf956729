import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../test/harness";

/*
 * The SDK as an outside project gets it: built, packed into a tarball, installed with npm into a
 * project outside the workspace, type-checked strictly and run against a live server. The script
 * is the README's code blocks, so the documented quick start is what is tested.
 */

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "../../..");
const sdkDir = join(repoRoot, "packages/sdk");

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

function run(
  command: string,
  args: string[],
  options: { cwd: string; env?: Record<string, string> },
): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      {
        cwd: options.cwd,
        env: { ...process.env, ...options.env },
        timeout: 240_000,
        maxBuffer: 20 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        resolve({
          code: error ? (typeof error.code === "number" ? error.code : 1) : 0,
          stdout,
          stderr,
        });
      },
    );
  });
}

async function mustRun(
  command: string,
  args: string[],
  options: { cwd: string; env?: Record<string, string> },
): Promise<string> {
  const outcome = await run(command, args, options);
  if (outcome.code !== 0) {
    throw new Error(
      `${command} ${args.join(" ")} failed (${outcome.code}):\n${outcome.stdout}\n${outcome.stderr}`,
    );
  }
  return outcome.stdout;
}

/** The README's ```ts blocks, joined: together they are one script. */
function readmeScript(): string {
  const readme = readFileSync(join(sdkDir, "README.md"), "utf8");
  return [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)]
    .map((match) => match[1] ?? "")
    .join("\n");
}

/** Lines that must not compile: proof the installed types are precise, not `any`. */
const TYPE_PROBES = `
// Type probes: each line below must be a type error.
export async function probes(): Promise<void> {
  // @ts-expect-error the name is a string
  await client.orgs.create.mutate({ name: 42 });
  // @ts-expect-error transport is an enum
  await client.connections.create.mutate({ org_id: org.id, name: "x", transport: "carrier-pigeon" });
  // @ts-expect-error no such procedure
  await client.orgs.nope.query();
  // @ts-expect-error run status is a closed set
  const status: "exploded" = run.status;
  // @ts-expect-error codes are a closed set
  if (isPlatformError(new Error(), "TEAPOT")) return;
  void status;
}
`;

describe("TypeScript SDK, installed from its tarball", () => {
  let server: TestServer;
  let project: string;
  beforeAll(async () => {
    server = await startTestServer({ DEMO_MCP_SERVER: "true" });
    project = mkdtempSync(join(tmpdir(), "mcpa-sdk-consumer-"));
  });
  afterAll(async () => {
    await server.close();
    rmSync(project, { recursive: true, force: true });
  });

  it("builds, packs, installs outside the workspace, type-checks strictly and runs the README quick start", async () => {
    await mustRun(join(sdkDir, "node_modules/.bin/tsup"), [], { cwd: sdkDir });
    const declarations = readFileSync(join(sdkDir, "dist/index.d.ts"), "utf8");
    const imported = [...declarations.matchAll(/from ['"]([^'"]+)['"]/g)].map((match) => match[1]);
    expect(new Set(imported)).toEqual(new Set(["@trpc/client", "@trpc/server"]));
    expect(declarations).not.toMatch(/@mcp\/|drizzle|pglite|zod/);

    await mustRun(
      join(repoRoot, "node_modules/.bin/pnpm"),
      ["pack", "--pack-destination", project],
      {
        cwd: sdkDir,
      },
    );
    const tarball = readdirSync(project).find((name) => name.endsWith(".tgz"));
    expect(tarball).toBeDefined();
    // What npm publish would upload: the build, the README and the licence, nothing else.
    const listing = await run("tar", ["-tzf", join(project, tarball ?? "")], { cwd: project });
    expect(listing.stdout.trim().split("\n").sort()).toEqual([
      "package/LICENSE",
      "package/README.md",
      "package/dist/index.d.ts",
      "package/dist/index.js",
      "package/dist/index.js.map",
      "package/package.json",
    ]);
    const packed = JSON.parse(readFileSync(join(sdkDir, "package.json"), "utf8")) as Record<
      string,
      unknown
    >;
    expect(packed).toMatchObject({
      name: "@mcp-agents/sdk",
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      license: "Apache-2.0",
      types: "./dist/index.d.ts",
      exports: { ".": { types: "./dist/index.d.ts", import: "./dist/index.js" } },
      publishConfig: { access: "public" },
    });
    expect(packed.private).toBeUndefined();

    writeFileSync(
      join(project, "package.json"),
      JSON.stringify({ name: "sdk-consumer", private: true, type: "module" }, null, 2),
    );
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify(
        {
          compilerOptions: {
            target: "ES2022",
            module: "NodeNext",
            moduleResolution: "NodeNext",
            strict: true,
            noUncheckedIndexedAccess: true,
            exactOptionalPropertyTypes: true,
            // @trpc/server's own declarations need `ws` types; a lib check of ours runs below.
            skipLibCheck: true,
            noEmit: true,
            types: ["node"],
          },
          include: ["quickstart.ts"],
        },
        null,
        2,
      ),
    );
    await mustRun(
      "npm",
      [
        "install",
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
        `./${tarball ?? ""}`,
        "typescript@5.9.3",
        "tsx@4",
        "@types/node@20",
      ],
      { cwd: project },
    );
    const manifest = JSON.parse(
      readFileSync(join(project, "node_modules/@mcp-agents/sdk/package.json"), "utf8"),
    ) as { dependencies?: Record<string, string> };
    expect(Object.keys(manifest.dependencies ?? {}).sort()).toEqual([
      "@trpc/client",
      "@trpc/server",
    ]);

    writeFileSync(join(project, "quickstart.ts"), `${readmeScript()}\n${TYPE_PROBES}`);
    const typecheck = await run(join(project, "node_modules/.bin/tsc"), ["-p", "."], {
      cwd: project,
    });
    expect(typecheck.code, `${typecheck.stdout}\n${typecheck.stderr}`).toBe(0);
    // With every declaration file checked, none of the errors may be in the SDK's.
    const libCheck = await run(
      join(project, "node_modules/.bin/tsc"),
      ["-p", ".", "--skipLibCheck", "false"],
      {
        cwd: project,
      },
    );
    expect(libCheck.stdout).not.toContain("@mcp-agents/sdk");

    const quickstart = await run(join(project, "node_modules/.bin/tsx"), ["quickstart.ts"], {
      cwd: project,
      env: { BASE_URL: server.url },
    });
    expect(quickstart.code, `${quickstart.stdout}\n${quickstart.stderr}`).toBe(0);
    expect(quickstart.stdout).toMatch(/logged in as sdk-/);
    expect(quickstart.stdout).toMatch(/synced \d+ tools from mcp-demo-server/);
    expect(quickstart.stdout).toMatch(/run [\w-]+: succeeded/);
    expect(quickstart.stdout).toContain("20");
    expect(quickstart.stdout).toContain("as the agent: succeeded");
    expect(quickstart.stdout).toMatch(/calculate succeeded/);
    expect(quickstart.stdout).toContain("name: ");
    expect(quickstart.stdout.trim().endsWith("null")).toBe(true);
  }, 300_000);
});
