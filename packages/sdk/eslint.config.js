// Imported by path rather than as the workspace's @mcp/eslint-config: a published package cannot
// list a private workspace package, even as a devDependency (pnpm pack refuses it).
import base from "../../tooling/eslint/base.js";

export default base;
