// Drives the chefbot web page in a real headless Chromium (playwright-core + Debian's chromium).
// usage: node web_check.js URL SCREENSHOT.png "ingredients" [timeout_ms] [enforce]
// Prints one JSON line: what the page showed. Exit 1 on any failure, with the reason.
"use strict";
const { chromium } = require("playwright-core");
const fs = require("fs");
const os = require("os");
const path = require("path");

// The recipe page's kitchen-sense view (app.js showKitchenSense): the warning block, and whether
// "Save to library" is offered at all.
async function kitchenSense(page) {
  return {
    sense_visible: await page.isVisible("#r-sense"),
    sense_class: await page.getAttribute("#r-sense", "class"),
    sense_title: await page.textContent("#r-sense-title"),
    sense_items: await page.$$eval("#r-sense-list li",
      (els) => els.map((e) => ({ name: e.dataset.check, cls: e.className, text: e.textContent }))),
    save_visible: await page.isVisible("#save"),
    save_note_visible: await page.isVisible("#save-note"),
  };
}

async function main() {
  const [url, shot, ingredients, timeoutArg, enforceArg] = process.argv.slice(2);
  const timeout = parseInt(timeoutArg || "60000", 10);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "chefbot-chromium-"));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    viewport: { width: 1000, height: 1100 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync"],
  });
  const errors = [];
  try {
    const page = browser.pages()[0] || (await browser.newPage());
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(url, { waitUntil: "load", timeout });
    await page.waitForSelector("body[data-ready='1']", { timeout });
    await page.fill("#ingredients", ingredients);
    await page.check("#vegetarian");
    await page.check("#nut-free");
    await page.fill("#max-minutes", "45");
    await page.selectOption("#difficulty", "easy");
    if (enforceArg === "enforce") await page.check("#enforce");
    // Record what the stream looked like while it was still running: text grows in steps.
    await page.click("#generate");
    await page.waitForFunction(() => document.getElementById("output").textContent.length > 0, null, { timeout });
    const partial = await page.textContent("#output");
    await page.waitForFunction(() => /^(Done|Error)/.test(document.getElementById("status").textContent), null, { timeout });
    const result = {
      partial_length: partial.length,
      output: await page.textContent("#output"),
      status: await page.textContent("#status"),
      structured_visible: await page.isVisible("#structured"),
      title: await page.textContent("#r-title"),
      steps: await page.$$eval("#r-steps li", (els) => els.map((e) => e.textContent)),
      checks: await page.$$eval("#r-checks li", (els) => els.map((e) => ({ name: e.dataset.check, cls: e.className, text: e.textContent }))),
      copy_enabled: await page.isEnabled("#copy"),
      download_enabled: await page.isEnabled("#download"),
      nav: await page.$$eval("header nav a",
        (els) => els.map((a) => (a.getAttribute("aria-current") ? "*" : "") + a.textContent)),
      plan_panel: await page.$$eval("#plan-panel, #plan-spec", (els) => els.length),
      key_field_visible: await page.isVisible("footer summary"),
      sources_visible: await page.isVisible("#r-sources"),
      sources: await page.$$eval("#r-sources-list li", (els) => els.map((e) => ({ id: e.dataset.source, text: e.textContent }))),
      page_errors: errors,
      ...(await kitchenSense(page)),
    };
    await page.screenshot({ path: shot, fullPage: true });
    console.log(JSON.stringify(result));
  } finally {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main().catch((e) => { console.error("web_check failed: " + (e && e.stack || e)); process.exit(1); });
