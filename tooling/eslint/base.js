import js from "@eslint/js";
import tseslint from "typescript-eslint";

/**
 * Shared flat config: type-checked rules for every package. `process.env` may only be read in an
 * app's env.ts so configuration is validated in one place.
 */
export default tseslint.config(
  {
    ignores: ["**/dist/**", "**/node_modules/**", "**/.data/**", "**/drizzle/**", "**/*.config.*"],
  },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  ...tseslint.configs.stylisticTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true } },
    rules: {
      "@typescript-eslint/consistent-type-imports": [
        "error",
        { prefer: "type-imports", fixStyle: "separate-type-imports" },
      ],
      "@typescript-eslint/no-non-null-assertion": "error",
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_" },
      ],
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true }],
      "@typescript-eslint/no-unnecessary-condition": [
        "error",
        { allowConstantLoopConditions: true },
      ],
      "@typescript-eslint/consistent-type-definitions": "off",
      "@typescript-eslint/no-extraneous-class": "off",
      "no-restricted-properties": [
        "error",
        {
          object: "process",
          property: "env",
          message: "Read configuration through the app's env.ts.",
        },
      ],
    },
  },
  {
    // Configuration read directly: env.ts, tests, benches, scripts, and the test-support module
    // that finds the tests' database (TEST_DATABASE_URL).
    files: [
      "**/env.ts",
      "**/*.test.ts",
      "**/test/**",
      "**/bench/**",
      "**/scripts/**",
      "**/e2e/**",
      "**/src/testing/database.ts",
    ],
    rules: { "no-restricted-properties": "off" },
  },
  {
    files: ["**/*.test.ts", "**/test/**", "**/e2e/**", "**/bench/**"],
    rules: {
      "@typescript-eslint/no-non-null-assertion": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      "@typescript-eslint/no-explicit-any": "off",
    },
  },
  {
    // Plain JavaScript entry files (a worker's loader) are outside every tsconfig: lint them
    // without type information rather than not at all.
    files: ["**/*.mjs"],
    ...tseslint.configs.disableTypeChecked,
  },
);
