/**
 * Tests run the workspace packages' sources through the `@mcp/source` export condition, never
 * their compiled `dist` (see each package's tsup.config.ts); the rest are Vite's server defaults
 * without "module", which Node ignores: the compiled server resolves dependencies as Node does
 * (@opentelemetry/api's "module" build has extensionless imports Node cannot load).
 */
export const sourceConditions = {
  ssr: { resolve: { conditions: ["@mcp/source", "node", "development|production"] } },
};
