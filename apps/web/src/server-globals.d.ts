/*
 * `import type { AppRouter } from "@mcp/api"` makes this program type-check the server's sources
 * too, under the DOM lib. Where server code relies on Node's own fetch types (undici's
 * `dispatcher` option), the DOM's RequestInit is widened to match; nothing in the SPA uses it.
 */
interface RequestInit {
  dispatcher?: unknown;
}
