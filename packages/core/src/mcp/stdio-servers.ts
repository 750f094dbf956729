import { accessSync, constants, existsSync, lstatSync, readlinkSync, realpathSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, isAbsolute, join, relative, resolve } from "node:path";
import { z } from "zod";

/**
 * Stdio MCP servers are programs on the platform host, so tenants never name a command: the
 * operator declares each server (command, fixed arguments, which variables an organization may
 * set) and a stdio connection picks one by id and fills only those variables.
 */
export interface StdioServer {
  id: string;
  name: string;
  description: string;
  /** Absolute path, resolved when the configuration is loaded. */
  command: string;
  args: string[];
  /** Variables an organization may set through the connection's secret. */
  env: string[];
  cwd: string | null;
  sandbox: "none" | "bwrap";
  /** Extra host paths made visible, read-only, inside the sandbox. */
  read_only_paths: string[];
}

/** Public view of a declared server: no command, arguments or paths of the host. */
export interface StdioServerSummary {
  id: string;
  name: string;
  description: string;
  env: string[];
  sandboxed: boolean;
}

export function summarizeStdioServer(server: StdioServer): StdioServerSummary {
  return {
    id: server.id,
    name: server.name,
    description: server.description,
    env: server.env,
    sandboxed: server.sandbox === "bwrap",
  };
}

export const STDIO_SERVER_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,199}$/;

/** The variables every child gets; nothing of the platform's own environment is passed on. */
const BASE_ENV_NAMES = ["PATH", "HOME", "TMPDIR", "LANG"];

/**
 * Variables that make a runtime load code or change how programs are found: letting an
 * organization set one turns "run this declared server" into "run anything". Refused even when an
 * operator declares them. Compared upper-cased, since some tools read lower-case forms too
 * (`npm_config_*`).
 */
const LOADER_VARIABLES = new Set([
  ...BASE_ENV_NAMES,
  "SHELL",
  "ENV",
  "BASH_ENV",
  "IFS",
  "PS4",
  "SHELLOPTS",
  "BASHOPTS",
  "CDPATH",
  "CLASSPATH",
  "GCONV_PATH",
  "GLIBC_TUNABLES",
  "HOSTALIASES",
  "LOCPATH",
  "NLSPATH",
  "RESOLV_HOST_CONF",
  "TZDIR",
  "GEM_HOME",
  "GEM_PATH",
  "LUA_PATH",
  "LUA_CPATH",
  "DENO_DIR",
  "BUN_INSTALL",
  "TMP",
  "TEMP",
]);
const LOADER_PREFIXES = [
  "LD_",
  "DYLD_",
  "NODE_",
  "NPM_CONFIG_",
  "YARN_",
  "PNPM_",
  "PYTHON",
  "PIP_",
  "UV_",
  "VIRTUAL_ENV",
  "PERL",
  "RUBY",
  "BUNDLE_",
  "JAVA_",
  "_JAVA_",
  "JDK_",
  "MAVEN_",
  "GRADLE_",
  "BASH_FUNC_",
  "GIT_",
  "XDG_",
  "MALLOC_",
  "LC_",
  "DOTNET_",
  "COREHOST_",
];

export function isLoaderVariable(name: string): boolean {
  const upper = name.toUpperCase();
  return LOADER_VARIABLES.has(upper) || LOADER_PREFIXES.some((prefix) => upper.startsWith(prefix));
}

const absolutePath = z
  .string()
  .min(1)
  .refine((value) => isAbsolute(value), "Must be an absolute path");

const declarationSchema = z.strictObject({
  id: z
    .string()
    .regex(
      STDIO_SERVER_ID_PATTERN,
      "Must be 1-63 characters of a-z, 0-9, _ and -, starting with a letter or digit",
    ),
  name: z.string().min(1).max(200).optional(),
  description: z.string().max(2000).optional(),
  command: z.string().min(1).max(1024),
  args: z.array(z.string().max(4096)).max(100).optional(),
  env: z
    .array(
      z
        .string()
        .regex(ENV_NAME_PATTERN, "Not a valid environment variable name")
        .refine(
          (name) => !isLoaderVariable(name),
          "Loader and search-path variables (PATH, NODE_OPTIONS, LD_PRELOAD, PYTHONPATH, …) cannot be set by organizations",
        ),
    )
    .max(100)
    .refine((names) => new Set(names).size === names.length, "Lists a variable twice")
    .optional(),
  cwd: absolutePath.optional(),
  sandbox: z.enum(["none", "bwrap"]).optional(),
  read_only_paths: z.array(absolutePath).max(50).optional(),
});

const declarationsSchema = z
  .array(declarationSchema)
  .max(200)
  .superRefine((servers, ctx) => {
    const seen = new Set<string>();
    servers.forEach((server, index) => {
      if (seen.has(server.id))
        ctx.addIssue({ code: "custom", path: [index, "id"], message: `Repeats id "${server.id}"` });
      seen.add(server.id);
    });
  });

export interface StdioServerHost {
  /** The PATH commands without a slash are looked up in, once, at load. */
  path: string;
  /** Where `bwrap` was found, or null when it is not installed. */
  bwrapPath: string | null;
}

function findExecutable(command: string, path: string): string | null {
  const candidates = command.includes("/")
    ? [resolve(command)]
    : path
        .split(delimiter)
        .filter((entry) => isAbsolute(entry))
        .map((entry) => join(entry, command));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here: try the next directory.
    }
  }
  return null;
}

/** Where bwrap is installed, from `path`; null when absent. */
export function findBwrap(path: string): string | null {
  return findExecutable("bwrap", path);
}

/**
 * Parses the operator's declarations (a JSON array) and resolves each command to an absolute path.
 * Throws one error listing every problem by entry and field, before the server starts.
 */
export function parseStdioServers(
  json: string,
  source: string,
  host: StdioServerHost,
): StdioServer[] {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (error) {
    throw new Error(
      `${source} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const parsed = declarationsSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map(
      (issue) =>
        `  ${source}${issue.path.map((part) => (typeof part === "number" ? `[${part}]` : `.${String(part)}`)).join("")}: ${issue.message}`,
    );
    throw new Error(`Invalid stdio server declarations:\n${lines.join("\n")}`);
  }
  const problems: string[] = [];
  const servers = parsed.data.map((declaration, index): StdioServer => {
    const command = findExecutable(declaration.command, host.path);
    if (!command)
      problems.push(
        `  ${source}[${index}].command: "${declaration.command}" is not an executable file${declaration.command.includes("/") ? "" : " on PATH"}`,
      );
    const sandbox = declaration.sandbox ?? "none";
    if (sandbox === "bwrap" && !host.bwrapPath)
      problems.push(
        `  ${source}[${index}].sandbox: bwrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)`,
      );
    return {
      id: declaration.id,
      name: declaration.name ?? declaration.id,
      description: declaration.description ?? "",
      command: command ?? declaration.command,
      args: declaration.args ?? [],
      env: declaration.env ?? [],
      cwd: declaration.cwd ?? null,
      sandbox,
      read_only_paths: declaration.read_only_paths ?? [],
    };
  });
  if (problems.length > 0)
    throw new Error(`Invalid stdio server declarations:\n${problems.join("\n")}`);
  return servers;
}

/** How to start one stdio server: what the MCP client spawns. */
export interface StdioLaunch {
  server_id: string;
  command: string;
  args: string[];
  cwd: string;
  /** The fixed base environment; the organization's declared variables are added at spawn. */
  env: Record<string, string>;
}

export interface SandboxSettings {
  bwrapPath: string | null;
  /** Host paths no sandboxed server may see (the data directory with the key file, PGlite). */
  hiddenPaths: string[];
}

const SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const SYSTEM_DIRECTORIES = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];
/** What programs commonly need from /etc (TLS roots, name resolution, users, time zone). */
const ETC_ENTRIES = [
  "/etc/ssl",
  "/etc/ca-certificates",
  "/etc/pki",
  "/etc/resolv.conf",
  "/etc/hosts",
  "/etc/nsswitch.conf",
  "/etc/passwd",
  "/etc/group",
  "/etc/localtime",
  "/etc/alternatives",
  "/etc/ld.so.cache",
  "/etc/mime.types",
];

function isWithin(path: string, directory: string): boolean {
  const between = relative(directory, path);
  return between === "" || (!between.startsWith("..") && !isAbsolute(between));
}

function realOrSame(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

/** bwrap arguments that make a symlinked top-level directory (/bin -> usr/bin) a symlink too. */
function systemMounts(): string[] {
  const args: string[] = [];
  for (const directory of SYSTEM_DIRECTORIES) {
    try {
      const stat = lstatSync(directory);
      if (stat.isSymbolicLink()) args.push("--symlink", readlinkSync(directory), directory);
      else args.push("--ro-bind", directory, directory);
    } catch {
      // Not on this system.
    }
  }
  for (const entry of ETC_ENTRIES) args.push("--ro-bind-try", entry, entry);
  return args;
}

function bwrapArguments(server: StdioServer, settings: SandboxSettings, cwd: string): string[] {
  const visible = [
    ...new Set(
      [dirname(server.command), ...(server.cwd ? [server.cwd] : []), ...server.read_only_paths]
        .map(realOrSame)
        .filter((path) => !SYSTEM_DIRECTORIES.some((system) => isWithin(path, system))),
    ),
  ];
  const binds = visible.flatMap((path) => ["--ro-bind", path, path]);
  // A declared path may contain the data directory: cover it with an empty tmpfs so the key
  // file and the database stay out of reach.
  // Checked at every start, so a directory created after the configuration was loaded is covered.
  const hidden = settings.hiddenPaths
    .filter((path) => existsSync(path))
    .map(realOrSame)
    .filter((path) => visible.some((directory) => isWithin(path, directory)))
    .flatMap((path) => ["--tmpfs", path]);
  return [
    "--die-with-parent",
    "--new-session",
    "--unshare-all",
    "--share-net",
    "--uid",
    "65534",
    "--gid",
    "65534",
    ...systemMounts(),
    "--proc",
    "/proc",
    "--dev",
    "/dev",
    "--tmpfs",
    "/tmp",
    ...binds,
    ...hidden,
    "--chdir",
    cwd,
    "--",
    server.command,
    ...server.args,
  ];
}

/**
 * The process to spawn for `server`: its command (inside bwrap when sandboxed) with a scrubbed
 * base environment. Never reads the platform's environment.
 */
export function stdioLaunch(server: StdioServer, settings: SandboxSettings): StdioLaunch {
  const sandboxed = server.sandbox === "bwrap";
  // Inside the sandbox /tmp is a private tmpfs; outside, the host's temporary directory.
  const temporary = sandboxed ? "/tmp" : tmpdir();
  const cwd = server.cwd ?? temporary;
  const env = {
    // The command's own directory first, so `#!/usr/bin/env node` scripts find their runtime.
    PATH: `${dirname(server.command)}:${SYSTEM_PATH}`,
    HOME: temporary,
    TMPDIR: temporary,
    LANG: "C.UTF-8",
  };
  if (!sandboxed)
    return { server_id: server.id, command: server.command, args: server.args, cwd, env };
  if (!settings.bwrapPath)
    throw new Error(`stdio server "${server.id}" asks for bwrap, which is not installed`);
  return {
    server_id: server.id,
    command: settings.bwrapPath,
    args: bwrapArguments(server, settings, cwd),
    cwd: tmpdir(),
    env,
  };
}
