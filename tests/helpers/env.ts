// Shared test helpers: the project root, and the rule that a test needing a real host tool
// fails (never skips) when CI=true and the tool is missing.
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

/** The project root. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");

/** True under CI (CI=true), where every test must run. */
export const IN_CI = process.env.CI === "true" || process.env.CI === "1";

/**
 * Whether a test that needs `tool` should be skipped: only outside CI, and only when missing.
 * Under CI a missing tool makes the test run and fail with the reason.
 */
export function skipWithout(available: boolean): boolean {
  return !available && !IN_CI;
}
