/**
 * Writes src/generated/router.ts: the server's AppRouter reduced to what a tRPC client needs (the
 * procedure tree, each procedure's input and output, the error shape), printed as plain types.
 *
 * Why not bundle the router's declarations: its context type reaches into @mcp/core, drizzle-orm
 * and the database drivers, none of which an outside project can (or should) install. Only the
 * resolved input/output types cross the wire, so those are all the SDK ships.
 *
 *   tsx scripts/generate-router-types.ts          regenerate
 *   tsx scripts/generate-router-types.ts --check  exit 1 when the committed file is stale
 */
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as prettier from "prettier";
import ts from "typescript";

const here = dirname(fileURLToPath(import.meta.url));
const apiDir = resolve(here, "../../api");
export const ROUTER_TYPES_PATH = resolve(here, "../src/generated/router.ts");

/** Named types the printer may meet that cannot be expanded (they are recursive). */
const KNOWN_ALIASES: Record<string, string> = { JSONType: "JsonValue" };

const HEADER = `/*
 * Generated from the server's AppRouter by packages/sdk/scripts/generate-router-types.ts; do not edit.
 * Regenerate with \`pnpm openapi:generate\` (which also refreshes the OpenAPI snapshot).
 */
import type { TRPCBuiltRouter, TRPCMutationProcedure, TRPCQueryProcedure } from "@trpc/server";

/** Any JSON value. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
`;

function createProgram(): { checker: ts.TypeChecker; routerType: ts.Type } {
  const configPath = join(apiDir, "tsconfig.json");
  const config = ts.getParsedCommandLineOfConfigFile(
    configPath,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
        throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n"));
      },
    },
  );
  if (!config) throw new Error(`Cannot read ${configPath}`);

  // A file that exists only in memory, inside the api package so its imports resolve as there.
  const entryPath = join(apiDir, "src", "__sdk_router_entry__.ts");
  const entrySource = `import type { AppRouter } from "./root";\nexport type Router = AppRouter;\n`;
  const host = ts.createCompilerHost(config.options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, languageVersion, ...rest) =>
    resolve(fileName) === entryPath
      ? ts.createSourceFile(fileName, entrySource, languageVersion)
      : getSourceFile(fileName, languageVersion, ...rest);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (fileName) => resolve(fileName) === entryPath || fileExists(fileName);

  const program = ts.createProgram({
    rootNames: [entryPath],
    // Core's sources rather than its emitted declarations: union members are ordered by when the
    // checker meets them, which differs between the two, and the output must not depend on
    // whether a build ran.
    options: {
      ...config.options,
      noEmit: true,
      paths: { "@mcp/core": [resolve(apiDir, "../core/src/index.ts")] },
    },
    host,
  });
  const diagnostics = ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (diagnostics.length > 0) {
    throw new Error(
      ts.formatDiagnostics(diagnostics, {
        ...host,
        getNewLine: () => "\n",
        getCanonicalFileName: (f) => f,
      }),
    );
  }
  const checker = program.getTypeChecker();
  const entry = program.getSourceFile(entryPath);
  const alias = entry?.statements.find(ts.isTypeAliasDeclaration);
  if (!alias) throw new Error("Router alias not found in the entry file");
  return { checker, routerType: checker.getTypeAtLocation(alias.name) };
}

class Printer {
  private readonly stack = new Set<ts.Type>();

  constructor(private readonly checker: ts.TypeChecker) {}

  member(type: ts.Type, name: string): ts.Type {
    const symbol = this.checker.getPropertyOfType(type, name);
    if (!symbol)
      throw new Error(`Expected a property ${name} on ${this.checker.typeToString(type)}`);
    return this.checker.getTypeOfSymbol(symbol);
  }

  print(type: ts.Type, indent: string): string {
    const aliasName = type.aliasSymbol?.getName();
    if (aliasName && aliasName in KNOWN_ALIASES) return KNOWN_ALIASES[aliasName] ?? aliasName;
    const f = type.flags;
    if (f & ts.TypeFlags.Any)
      throw new Error("`any` reached the wire types; give the schema a precise type");
    if (f & ts.TypeFlags.Unknown) return "unknown";
    if (f & ts.TypeFlags.String) return "string";
    if (f & ts.TypeFlags.Number) return "number";
    if (f & ts.TypeFlags.Boolean) return "boolean";
    if (f & ts.TypeFlags.BigInt) return "bigint";
    // A void output reaches the client as undefined (204 / no result).
    if (f & ts.TypeFlags.Void) return "undefined";
    if (f & ts.TypeFlags.Undefined) return "undefined";
    if (f & ts.TypeFlags.Null) return "null";
    if (f & ts.TypeFlags.Never) return "never";
    if (type.isStringLiteral()) return JSON.stringify(type.value);
    if (type.isNumberLiteral()) return String(type.value);
    if (f & ts.TypeFlags.BooleanLiteral) return this.checker.typeToString(type);
    if (type.isUnion()) return this.union(type.types, indent);
    if (this.stack.has(type)) {
      throw new Error(`Recursive type ${this.checker.typeToString(type)}: add it to KNOWN_ALIASES`);
    }
    this.stack.add(type);
    try {
      return this.object(type, indent);
    } finally {
      this.stack.delete(type);
    }
  }

  private union(types: readonly ts.Type[], indent: string): string {
    const parts: string[] = [];
    // TypeScript orders members by creation; null and undefined read better last.
    const rank = (t: ts.Type) =>
      t.flags & ts.TypeFlags.Undefined ? 2 : t.flags & ts.TypeFlags.Null ? 1 : 0;
    types = [...types].sort((a, b) => rank(a) - rank(b));
    const hasTrue = types.some(
      (t) => t.flags & ts.TypeFlags.BooleanLiteral && this.checker.typeToString(t) === "true",
    );
    const hasFalse = types.some(
      (t) => t.flags & ts.TypeFlags.BooleanLiteral && this.checker.typeToString(t) === "false",
    );
    for (const member of types) {
      const printed =
        hasTrue && hasFalse && member.flags & ts.TypeFlags.BooleanLiteral
          ? "boolean"
          : this.print(member, indent);
      if (!parts.includes(printed)) parts.push(printed);
    }
    return parts.join(" | ");
  }

  private object(type: ts.Type, indent: string): string {
    if (this.checker.isArrayType(type)) {
      const [element] = this.checker.getTypeArguments(type as ts.TypeReference);
      if (!element) throw new Error("Array without an element type");
      const printed = this.print(element, indent);
      return /[|&\s]/.test(printed) && !printed.startsWith("{") ? `(${printed})[]` : `${printed}[]`;
    }
    if (this.checker.isTupleType(type)) {
      return `[${this.checker
        .getTypeArguments(type as ts.TypeReference)
        .map((t) => this.print(t, indent))
        .join(", ")}]`;
    }
    // Global classes and interfaces (Date, Uint8Array) resolve anywhere; mapped lib types such as
    // Record are anonymous and are expanded below.
    const symbol = type.getSymbol();
    const isNamed =
      symbol !== undefined &&
      (symbol.flags & (ts.SymbolFlags.Class | ts.SymbolFlags.Interface)) !== 0;
    if (isNamed && symbol.declarations?.some((d) => d.getSourceFile().hasNoDefaultLib))
      return symbol.getName();
    if (type.getCallSignatures().length > 0 || type.getConstructSignatures().length > 0) {
      throw new Error(`A function type reached the wire types: ${this.checker.typeToString(type)}`);
    }
    const indexInfos = this.checker.getIndexInfosOfType(type);
    const properties = this.checker.getPropertiesOfType(type);
    const [onlyIndex] = indexInfos;
    if (onlyIndex && indexInfos.length === 1 && properties.length === 0) {
      return `Record<${this.print(onlyIndex.keyType, indent)}, ${this.print(onlyIndex.type, indent)}>`;
    }
    const inner = `${indent}  `;
    const lines: string[] = [];
    for (const info of indexInfos) {
      lines.push(
        `${inner}[key: ${this.print(info.keyType, inner)}]: ${this.print(info.type, inner)};`,
      );
    }
    for (const property of properties) {
      const optional = property.flags & ts.SymbolFlags.Optional ? "?" : "";
      const name = /^[A-Za-z_$][\w$]*$/.test(property.getName())
        ? property.getName()
        : JSON.stringify(property.getName());
      lines.push(
        `${inner}${name}${optional}: ${this.print(this.checker.getTypeOfSymbol(property), inner)};`,
      );
    }
    if (lines.length === 0) return "Record<string, never>";
    return `{\n${lines.join("\n")}\n${indent}}`;
  }
}

function printRecord(
  printer: Printer,
  record: ts.Type,
  checker: ts.TypeChecker,
  indent: string,
): string {
  const inner = `${indent}  `;
  const lines: string[] = [];
  for (const property of checker.getPropertiesOfType(record)) {
    const value = checker.getTypeOfSymbol(property);
    const def = checker.getPropertyOfType(value, "_def");
    const isProcedure =
      def !== undefined &&
      checker.getPropertyOfType(checker.getTypeOfSymbol(def), "procedure") !== undefined;
    if (!isProcedure) {
      lines.push(`${inner}${property.getName()}: ${printRecord(printer, value, checker, inner)};`);
      continue;
    }
    const defType = printer.member(value, "_def");
    const kind = printer.member(defType, "type");
    const types = printer.member(defType, "$types");
    const name = kind.isStringLiteral() ? kind.value : "";
    if (name !== "query" && name !== "mutation")
      throw new Error(`Unsupported procedure type for ${property.getName()}`);
    const procedure = name === "query" ? "TRPCQueryProcedure" : "TRPCMutationProcedure";
    const deeper = `${inner}  `;
    lines.push(
      `${inner}${property.getName()}: ${procedure}<{\n` +
        `${deeper}meta: object;\n` +
        `${deeper}errorShape: ErrorShape;\n` +
        `${deeper}input: ${printer.print(printer.member(types, "input"), deeper)};\n` +
        `${deeper}output: ${printer.print(printer.member(types, "output"), deeper)};\n` +
        `${inner}}>;`,
    );
  }
  return `{\n${lines.join("\n")}\n${indent}}`;
}

/** The file's content, formatted with the repository's Prettier settings so format checks pass. */
export async function generateRouterTypes(): Promise<string> {
  const { checker, routerType } = createProgram();
  const printer = new Printer(checker);
  const def = printer.member(routerType, "_def");
  const rootTypes = printer.member(printer.member(def, "_config"), "$types");
  const errorShape = printer.print(printer.member(rootTypes, "errorShape"), "");
  const transformer = printer.print(printer.member(rootTypes, "transformer"), "");
  const record = printRecord(printer, printer.member(def, "record"), checker, "");
  const source =
    `${HEADER}\n` +
    `/** The body of an error as the tRPC transport carries it; \`data.code\` is the platform's error code. */\n` +
    `export type ErrorShape = ${errorShape};\n\n` +
    `/** The platform's API as a tRPC router type: what \`createTRPCClient\` needs, and nothing of the server. */\n` +
    `export type PlatformRouter = TRPCBuiltRouter<\n` +
    `  { ctx: object; meta: object; errorShape: ErrorShape; transformer: ${transformer} },\n` +
    `  ${record.replace(/\n/g, "\n  ")}\n` +
    `>;\n`;
  const config = await prettier.resolveConfig(ROUTER_TYPES_PATH);
  return prettier.format(source, { ...config, parser: "typescript" });
}

async function main(): Promise<void> {
  const check = process.argv.includes("--check");
  const generated = await generateRouterTypes();
  let current = "";
  try {
    current = readFileSync(ROUTER_TYPES_PATH, "utf8");
  } catch {
    // missing: written below, or stale for --check
  }
  const path = relative(process.cwd(), ROUTER_TYPES_PATH);
  if (check) {
    if (current !== generated) {
      console.error(`${path} is stale: run \`pnpm openapi:generate\``);
      process.exit(1);
    }
    console.log(`${path} is up to date`);
    return;
  }
  if (current !== generated) writeFileSync(ROUTER_TYPES_PATH, generated);
  console.log(`${current === generated ? "unchanged" : "wrote"} ${path}`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
