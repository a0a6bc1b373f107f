// `xenwasm bench event --html FILE` opened in a real browser (Debian's Chromium): the page loads
// nothing from anywhere, logs no error, and draws every bar the JSON of the same run has, with a
// width in proportion to its value, beside the results table.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT } from "../helpers/env.js";
import { SKIP_BROWSER, launchChromium } from "../helpers/browser.js";

describe.skipIf(SKIP_BROWSER)("an HTML bench report in Chromium", () => {
  it("shows the table and draws each bar of the run's JSON to scale, loading nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "xenwasm-html-"));
    const file = join(dir, "event.html");
    const browser = await launchChromium();
    try {
      const r = spawnSync(process.execPath, [join(ROOT, "bin/xenwasm.js"), "bench", "event", "--mode", "spin", "--round-trips", "2000", "--runs", "1", "--json", "--html", file],
        { encoding: "utf8", cwd: ROOT, timeout: 120_000 });
      expect(r.status, r.stderr).toBe(0);
      const rows = JSON.parse(r.stdout) as Array<{ impl: string; evtchn?: string; us_per_round_trip: number }>;
      const page = await browser.newPage();
      const requests: string[] = [], errors: string[] = [];
      page.on("request", (q) => { if (!q.url().startsWith("file:")) requests.push(q.url()); });
      page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(pathToFileURL(file).href);
      expect(await page.locator("#results").isVisible()).toBe(true);
      expect(await page.locator("#results tr").count()).toBeGreaterThan(rows.length);
      const bars = await page.$$eval("svg [data-value]", (els) => els.map((e) => {
        const b = (e as SVGGraphicsElement).getBBox();
        return { series: e.getAttribute("data-series"), config: e.getAttribute("data-config"), value: Number(e.getAttribute("data-value")), width: b.width, height: b.height };
      }));
      // Every xenwasm row and the native one are drawn, each bar as wide as its value says.
      const xen = rows.filter((x) => x.impl === "xenwasm"), native = rows.filter((x) => x.impl !== "xenwasm");
      expect(bars.filter((b) => b.series === "xenwasm").length).toBeGreaterThanOrEqual(xen.length);
      expect(bars.filter((b) => b.series === "native").length).toBeGreaterThanOrEqual(native.length > 0 ? 1 : 0);
      for (const row of rows) expect(bars.some((b) => Math.abs(b.value - row.us_per_round_trip) < 1e-9), `no bar for ${JSON.stringify(row)}`).toBe(true);
      const positive = bars.filter((b) => b.value > 0);
      expect(positive.every((b) => b.width > 0 && b.height > 0)).toBe(true);
      const max = positive.reduce((a, b) => (b.value > a.value ? b : a));
      for (const b of positive) expect(b.width / max.width).toBeCloseTo(b.value / max.value, 1);
      expect(requests).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
