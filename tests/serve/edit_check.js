// The library's Edit form in a real browser (tests/serve/test_browser.py): open a saved recipe, read its nutrition,
// change its servings and a step, save, reload and read the change back; then a stale edit: another tab saves
// first, and this tab's save shows the 409 message and re-opens the form on the other tab's version.
// usage: node edit_check.js SPEC.json   (url, recipe_id, servings, step: [index, text], other_title, out_dir)
//   -> one JSON line: what the pages showed
"use strict";
const fs = require("fs");
const path = require("path");
const { launch } = require("./browser_launch");

async function main() {
  const spec = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  const context = await launch({ width: 1000, height: 900 });
  context.setDefaultTimeout(spec.timeout_ms || 60000);
  const errors = [];
  const out = { page_errors: errors };
  const texts = (page, sel) => page.$$eval(sel, (es) => es.map((e) => e.textContent));
  try {
    const page = context.pages()[0] || (await context.newPage());
    page.on("pageerror", (e) => errors.push(String(e)));
    const open = async (p) => {
      await p.goto(`${spec.url}/library?recipe=${spec.recipe_id}`);
      await p.waitForSelector("body[data-ready='1']");
      await p.waitForFunction(() => !document.getElementById("recipe-view").hidden);
    };
    await open(page);
    await page.waitForFunction(() => /^(From the|No nutrition)/.test(document.getElementById("v-nut-source").textContent));
    out.nutrition = {
      heading: await page.textContent("#v-nut-h"),
      rows: await texts(page, "#v-nut-rows tr"),
      unmatched: await page.textContent("#v-nut-unmatched"),
      source: await page.textContent("#v-nut-source"),
    };
    // edit: servings and one step
    await page.click("#edit");
    await page.fill("#e-servings", String(spec.servings));
    const steps = (await page.inputValue("#e-directions")).split("\n");
    steps[spec.step[0]] = spec.step[1];
    await page.fill("#e-directions", steps.join("\n"));
    await page.click("#e-save");
    await page.waitForFunction(() => document.getElementById("lib-status").textContent.startsWith("Saved"));
    out.saved_status = await page.textContent("#lib-status");
    await page.reload();
    await page.waitForSelector("body[data-ready='1']");
    await page.waitForFunction(() => !document.getElementById("recipe-view").hidden);
    out.reloaded = {
      meta: await page.textContent("#v-meta"),
      servings: await page.inputValue("#v-servings"),
      directions: await texts(page, "#v-directions li"),
    };
    // a stale edit: this tab opens the form, another tab saves first
    await page.click("#edit");
    const other = await context.newPage();
    other.on("pageerror", (e) => errors.push(String(e)));
    await open(other);
    await other.click("#edit");
    await other.fill("#e-title", spec.other_title);
    await other.click("#e-save");
    await other.waitForFunction(() => document.getElementById("lib-status").textContent.startsWith("Saved"));
    await other.close();
    await page.fill("#e-servings", String(spec.servings + 1));
    await page.click("#e-save");
    await page.waitForFunction(() => document.getElementById("lib-status").textContent.includes("409"));
    await page.waitForFunction((t) => document.getElementById("e-title").value === t, spec.other_title);
    out.stale = {
      status: await page.textContent("#lib-status"),
      status_is_error: await page.$eval("#lib-status", (e) => e.classList.contains("error")),
      form_open: await page.$eval("#edit-form", (f) => !f.hidden),
      form_title: await page.inputValue("#e-title"),
      form_servings: await page.inputValue("#e-servings"),
      meta: await page.textContent("#v-meta"),
    };
    await page.screenshot({ path: path.join(spec.out_dir, "library-edit-stale.png"), fullPage: true });
  } finally {
    await context.close();
  }
  console.log(JSON.stringify(out));
}

main().catch((e) => { console.error(e && e.stack || String(e)); process.exit(1); });
