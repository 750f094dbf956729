/**
 * Tests run the workspace packages' sources through the `@mcp/source` export condition, never
 * their compiled `dist` (see each package's tsup.config.ts); the rest are Vite's server defaults.
 */
export const sourceConditions = {
  ssr: { resolve: { conditions: ["@mcp/source", "module", "node", "development|production"] } },
};
