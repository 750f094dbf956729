import base from "@mcp/eslint-config/base";

export default base;
