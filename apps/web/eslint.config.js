import base from "@mcp/eslint-config/base";
import react from "@mcp/eslint-config/react";

export default [
  ...base,
  ...react,
  {
    files: ["src/**/*.{ts,tsx}"],
    rules: {
      "no-restricted-globals": [
        "error",
        { name: "fetch", message: "Talk to the API through the typed tRPC client." },
        { name: "confirm", message: "Use ConfirmDialog." },
      ],
      "no-restricted-properties": [
        "error",
        { object: "process", property: "env", message: "The SPA has no process environment." },
        {
          object: "window",
          property: "fetch",
          message: "Talk to the API through the typed tRPC client.",
        },
        { object: "window", property: "confirm", message: "Use ConfirmDialog." },
      ],
    },
  },
];
