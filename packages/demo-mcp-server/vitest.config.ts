import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    // The entry-point tests start tsx child processes, slow on a cold cache and a busy machine.
    testTimeout: 30_000,
  },
});
