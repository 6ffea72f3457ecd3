// Drives the planner page (/plan) in a real headless Chromium (playwright-core + Debian's chromium), as the
// cook of issue 25 did: a meal the planner refuses names its fix, the fix is made in the form, the plan shows
// who turns the oven on; a serving time already past is refused. Used by tests/serve/test_browser.py.
// usage: node plan_check.js SPEC.json
//   (SPEC: {url, timeout_ms, out_dir, dishes: [title, title], fix_dish: title, fix_hold: minutes that dish may wait})
// Prints one JSON line: what the page showed. Exit 1 on any failure, with the reason.
"use strict";
const { chromium } = require("playwright-core");
const fs = require("fs");
const os = require("os");
const path = require("path");

const two = (n) => String(n).padStart(2, "0");
const day = (d) => `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}`;
const clock = (d) => `${two(d.getHours())}:${two(d.getMinutes())}`;

async function submitAndWait(page, timeout) {
  await page.click("#make-plan");
  await page.waitForFunction(() => document.getElementById("make-plan").disabled === false
    && (document.getElementById("plan-status").classList.contains("error") || !document.getElementById("plan-out").hidden),
  null, { timeout });
  return page.textContent("#plan-status");
}

async function main() {
  const spec = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  const timeout = spec.timeout_ms || 60000;
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "chefbot-chromium-"));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    viewport: { width: 1000, height: 1400 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync"],
  });
  const errors = [];
  const out = {};
  try {
    const page = browser.pages()[0] || (await browser.newPage());
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(spec.url + "/plan", { waitUntil: "load", timeout });
    await page.waitForSelector("body[data-ready='1']", { timeout });
    out.default_date = await page.inputValue("#serve-date");
    out.browser_today = day(new Date());
    const pick = (title) => page.locator("#dish-picks li", { has: page.locator(".dish-title", { hasText: title }) }).first();
    for (const title of spec.dishes) await pick(title).locator("input.dish-pick").check();
    // every meal-spec field the form sets, as the page has it now (dishes loaded)
    out.fields = await page.$$eval("[data-field]", (els) => [...new Set(els.map((e) => e.dataset.field))]);

    // 1. Serving six hours from now, the meal's wait set by the cook (the form's is empty: the defaults by how a
    //    dish ends): refused, and the message names the fixes.
    out.default_hold = await page.inputValue("#hot-hold");
    if (spec.meal_hold !== undefined) await page.fill("#hot-hold", String(spec.meal_hold));
    const when = new Date(Date.now() + 6 * 3600000);
    await page.fill("#serve-date", day(when));
    await page.fill("#serve-at", clock(when));
    out.serve = { date: day(when), at: clock(when) };
    out.refused = await submitAndWait(page, timeout);

    // 2. The fix the message names ("hot_hold_max_min ... on the recipe"), made in the form: that dish may wait longer.
    await pick(spec.fix_dish).locator("input.dish-hold").fill(String(spec.fix_hold));
    out.sent = JSON.parse(await page.inputValue("#plan-json"));
    out.fixed_status = await submitAndWait(page, timeout);
    out.plan_id = Number(new URL(page.url()).searchParams.get("plan"));
    out.summary = await page.textContent("#p-summary");
    out.preheat_bars = await page.$$eval("#gantt .bar.preheat-task", (els) => els.map((e) => e.dataset.task));
    out.cook_items = await page.$$eval("#cook-lists li", (els) => els.map((e) => e.textContent));
    await page.screenshot({ path: path.join(spec.out_dir, "plan-page.png"), fullPage: true });

    // 3. A serving time an hour ago, today (yesterday just after midnight): refused, naming serve_at and now.
    const past = new Date(Date.now() - 3600000);
    await page.fill("#serve-date", day(past));
    await page.fill("#serve-at", clock(past));
    out.past = await submitAndWait(page, timeout);
  } finally {
    out.page_errors = errors;
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  console.log(JSON.stringify(out));
}

main().catch((e) => { console.error("plan_check failed: " + (e && e.stack || e)); process.exit(1); });
