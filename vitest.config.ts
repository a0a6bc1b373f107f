import { defineConfig } from "vitest/config";

// Tests run against the output of `npm run build` (the README's `npm test` builds first).
export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    pool: "forks",
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
