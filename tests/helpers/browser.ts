// Shared by the browser tests: Debian's Chromium (CHROMIUM overrides the path) driven headless by
// playwright-core. Outside CI a machine without Chromium skips them; under CI they fail instead.
import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";
import { skipWithout } from "./env.js";

/** The Chromium the browser tests drive. */
export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

/** Whether the browser tests should be skipped (Chromium missing, and not under CI). */
export const SKIP_BROWSER = skipWithout(existsSync(CHROMIUM));

/** Launches Chromium headless; throws with the reason when it is not installed. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM)`);
  return chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
}
