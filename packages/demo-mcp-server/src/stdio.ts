#!/usr/bin/env tsx
/** Runs the demo MCP server over stdio, e.g. as a stdio connection: command `tsx`, args `[path/to/stdio.ts]`. */
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { createDemoMcpServer } from "./server";

// stdout carries the protocol, so nothing else may be printed there.
await createDemoMcpServer().connect(new StdioServerTransport());
